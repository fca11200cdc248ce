"""A writer process SIGKILLed at random moments never leaves a file that fails to load.

Each trial forks a child that writes a rollout (fsync after every batch) and reports,
through a pipe, the last ordinal of each batch once it was fsynced. The parent kills
it at a random point, then checks: the file loads with no bad lines, ordinals run
without gaps, every reported (fsynced) line is there, every ``output_ref`` names a
complete blob, and a resumed writer cuts a torn tail and continues the numbering.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import select
import signal
import stat
import struct
import time
from datetime import datetime
from pathlib import Path

import pytest
from support.waits import read_within, wait_child

from llmx.events.event_log import EventLog, RolloutOptions
from llmx.events.event_msgs import AgentMessage, ExecCommandEnd, TaskComplete, TaskStarted
from llmx.events.fsync_policy import FsyncPolicy
from llmx.events.home import rollout_path_for
from llmx.events.ids import new_thread_id
from llmx.events.ops import UserInputOp
from llmx.events.outputs import blob_path
from llmx.events.primitives import TextInput
from llmx.events.reader import RolloutReader
from llmx.events.records import OutputRef, SessionMeta, SubmissionRecord
from llmx.events.redact import Redactor

TRIALS = 240
STARTED = datetime(2026, 11, 21, 6, 0, 0).astimezone()
REPORT = struct.Struct("<q")


def _batch(rng: random.Random, turn: int) -> list[object]:
    batch: list[object] = [TaskStarted(turn_id=str(turn))]
    for _ in range(rng.randint(0, 6)):
        roll = rng.random()
        if roll < 0.3:
            size = rng.choice([10, 1000, 50_000])
            output = "o" * size
            batch.append(ExecCommandEnd(call_id=f"c{turn}", exit_code=0, aggregated_output=output))
        elif roll < 0.4:
            # Big lines make a kill in the middle of a write (a torn tail) likely.
            batch.append(AgentMessage(message="m" * rng.choice([200_000, 1_000_000, 3_000_000])))
        else:
            batch.append(AgentMessage(message=f"turn {turn} says {rng.random()}"))
    batch.append(TaskComplete(turn_id=str(turn)))
    return batch


def _child(home: Path, thread_id: str, seed: int, report_fd: int) -> None:
    rng = random.Random(seed)

    async def run() -> None:
        options = RolloutOptions(fsync=FsyncPolicy.ALWAYS, inline_output_limit=4096)
        meta = SessionMeta(id=thread_id, cwd="/w", originator="crash_test", cli_version="0")
        log = EventLog.for_new_thread(
            home, meta, started_local=STARTED, options=options, redactor=Redactor.disabled()
        )
        submission = SubmissionRecord(id="0", op=UserInputOp(items=[TextInput(text="go")]))
        result = await log.record(submission)
        os.write(report_fd, REPORT.pack(result.lines[-1].ordinal or 0))
        for turn in range(10_000):
            result = await log.record(*_batch(rng, turn))  # type: ignore[arg-type]
            assert result.synced
            os.write(report_fd, REPORT.pack(log.next_ordinal - 1))

    asyncio.run(run())


def _drain(fd: int, wait: float) -> bytes:
    readable, _, _ = select.select([fd], [], [], wait)
    if not readable:
        return b""
    return os.read(fd, 1 << 16)


def _run_trial(home: Path, seed: int) -> tuple[Path, int | None]:
    """Fork a writer, kill it at a random moment; the path and the last fsynced ordinal."""
    rng = random.Random(seed)
    thread_id = new_thread_id()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(read_fd)
            _child(home, thread_id, seed, write_fd)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    wanted = rng.randint(0, 12)
    buffered = b""
    try:
        while len(buffered) // REPORT.size < wanted:
            chunk = _drain(read_fd, 10.0)
            if not chunk:
                break
            buffered += chunk
        time.sleep(rng.random() * 0.004)
        os.kill(pid, signal.SIGKILL)
        status = wait_child(pid, "the killed writer")
        assert os.WIFSIGNALED(status), f"writer exited by itself (status {status})"
        while chunk := read_within(read_fd, 1 << 16, "the writer's reports"):
            buffered += chunk
    finally:
        os.close(read_fd)
    count = len(buffered) // REPORT.size
    last = REPORT.unpack_from(buffered, (count - 1) * REPORT.size)[0] if count else None
    return rollout_path_for(home, thread_id, STARTED), last


def _check_blobs(path: Path, reader_lines: list[object]) -> None:
    for line in reader_lines:
        item = line.item()  # type: ignore[attr-defined]
        if isinstance(item, OutputRef):
            data = blob_path(path, item.sha256).read_bytes()
            assert hashlib.sha256(data).hexdigest() == item.sha256
            assert len(data) == item.size


@pytest.mark.slow
def test_sigkill_at_random_moments_never_corrupts_a_rollout(tmp_path: Path) -> None:
    torn_tails = 0
    for seed in range(TRIALS):
        home = tmp_path / f"home{seed}"
        path, last_synced = _run_trial(home, seed)
        if not path.exists():
            # Killed before the first user input was recorded: nothing was acknowledged.
            assert last_synced is None, f"trial {seed}: acknowledged lines but no file"
            continue
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        reader = RolloutReader(path)
        lines = list(reader)
        assert reader.problems == [], f"trial {seed}: {reader.problems}"
        ordinals = [line.ordinal for line in lines]
        assert ordinals == list(range(len(lines))), f"trial {seed}: gaps in {ordinals[-5:]}"
        if last_synced is not None:
            assert len(lines) - 1 >= last_synced, f"trial {seed}: lost fsynced lines"
        _check_blobs(path, lines)  # type: ignore[arg-type]
        torn_tails += reader.torn_tail is not None

        resumed = EventLog.resume(path, redactor=Redactor.disabled())
        assert bool(resumed.notices) == (reader.torn_tail is not None)
        assert resumed.next_ordinal == len(lines)
        asyncio.run(_append_one(resumed))
        after = RolloutReader(path)
        assert [line.ordinal for line in after] == list(range(len(lines) + 1))
        assert after.torn_tail is None
        assert after.problems == []
    # Reported so a run can be judged, not asserted: tears depend on kernel timing.
    print(f"{TRIALS} trials, {torn_tails} torn tails cut")


async def _append_one(log: EventLog) -> None:
    await log.record(TaskStarted(turn_id="after-crash"))
    await log.close()
