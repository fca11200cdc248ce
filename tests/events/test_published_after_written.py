"""A subscriber gets a line only once it is in the file (fsynced as the policy asks): what
a frontend shows survives a kill of its process at that moment.

A new thread's file appears when its first request reached the model (``persist``);
lines recorded in a turn before that wait for it. A turn that ends without the file (it
never reached the model) is published at its end, and lines recorded outside a turn at
once: those are never written unless a later turn materialises the file.

The folders that got a new entry (the rollout, a blob) are fsynced with the file's first
fsync after it, seen here in the system calls of a real writer process under strace.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support import PROJECT_ROOT
from support.waits import WAIT_SECONDS

from llmx.events.event_log import EventLog, RolloutOptions
from llmx.events.event_msgs import AgentMessage, TaskComplete, TaskStarted
from llmx.events.fsync_policy import FsyncPolicy
from llmx.events.ids import new_thread_id
from llmx.events.lines import RolloutLine
from llmx.events.ops import UserInputOp
from llmx.events.primitives import TextInput
from llmx.events.reader import read_rollout
from llmx.events.records import SessionMeta, SubmissionRecord
from llmx.events.subscribers import Subscription

pytestmark = pytest.mark.asyncio


def _new_thread(home: Path, fsync: FsyncPolicy = FsyncPolicy.TURN) -> EventLog:
    meta = SessionMeta(id=new_thread_id(), cwd="/w", originator="llmx_test", cli_version="0")
    return EventLog.for_new_thread(home, meta, until_persisted=True,
                                   options=RolloutOptions(fsync=fsync))


def _user_input() -> SubmissionRecord:
    return SubmissionRecord(id="1", op=UserInputOp(items=[TextInput(text="hello")]))


def _received(subscription: Subscription) -> list[RolloutLine]:
    lines = []
    while (line := subscription.get_nowait()) is not None:
        lines.append(line)
    return lines


def _on_disk(log: EventLog) -> list[bytes]:
    path = log.path
    assert path is not None
    return [line.raw for line in read_rollout(path)] if path.exists() else []


async def test_a_turn_is_published_when_its_file_appears(tmp_path: Path) -> None:
    log = _new_thread(tmp_path)
    subscription = log.subscribe()
    await log.record(_user_input())
    await log.record(TaskStarted(turn_id="t"))
    assert _received(subscription) == []
    assert log.unwritten() == [], "a catch-up reader would show held lines too early"
    await log.persist()
    shown = _received(subscription)
    assert [line.type for line in shown] == ["session_meta", "submission", "event_msg"]
    assert [line.raw for line in shown] == _on_disk(log)
    await log.record(AgentMessage(message="hi"), TaskComplete(turn_id="t"))
    shown += _received(subscription)
    assert [line.raw for line in shown] == _on_disk(log)
    assert [line.ordinal for line in shown] == [0, 1, 2, 3, 4]
    await log.close()


async def test_a_turn_that_never_reached_the_model_is_published_at_its_end(
    tmp_path: Path,
) -> None:
    log = _new_thread(tmp_path)
    subscription = log.subscribe()
    await log.record(_user_input())
    await log.record(TaskStarted(turn_id="t"))
    assert _received(subscription) == []
    await log.record(TaskComplete(turn_id="t"))
    failed = _received(subscription)
    assert [line.ordinal for line in failed] == [0, 1, 2, 3]
    assert not tmp_path.joinpath("sessions").exists()
    # A catch-up reader now gets what was shown (never written, but shown).
    assert [line.ordinal for line in log.unwritten()] == [0, 1, 2, 3]
    # The next turn reaches the model: the file holds both, each line shown once.
    await log.record(_user_input())
    await log.record(TaskStarted(turn_id="t2"))
    assert _received(subscription) == []
    await log.persist()
    later = _received(subscription)
    assert [line.ordinal for line in later] == [4, 5]
    assert [line.raw for line in failed + later] == _on_disk(log)
    await log.close()


async def test_lines_outside_a_turn_are_published_at_once(tmp_path: Path) -> None:
    log = _new_thread(tmp_path)
    subscription = log.subscribe()
    await log.record(AgentMessage(message="a notice before any turn"))
    assert [line.type for line in _received(subscription)] == ["session_meta", "event_msg"]
    await log.close()


async def test_held_lines_are_published_when_the_thread_closes_without_a_file(
    tmp_path: Path,
) -> None:
    log = _new_thread(tmp_path)
    subscription = log.subscribe()
    await log.record(_user_input())
    await log.close()
    assert [line.type for line in _received(subscription)] == ["session_meta", "submission"]
    assert subscription.closed
    assert not tmp_path.joinpath("sessions").exists()


# -- fsyncs, seen by strace ------------------------------------------------------------------

WRITER = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from llmx.events.event_log import EventLog, RolloutOptions
    from llmx.events.fsync_policy import FsyncPolicy
    from llmx.events.event_msgs import ExecCommandEnd, TaskComplete, TaskStarted
    from llmx.events.ids import new_thread_id
    from llmx.events.ops import UserInputOp
    from llmx.events.primitives import TextInput
    from llmx.events.records import SessionMeta, SubmissionRecord

    async def main() -> None:
        meta = SessionMeta(id=new_thread_id(), cwd="/w", originator="t", cli_version="0")
        options = RolloutOptions(fsync=FsyncPolicy(sys.argv[2]), inline_output_limit=100)
        log = EventLog.for_new_thread(Path(sys.argv[1]), meta, until_persisted=True,
                                      options=options)
        subscription = log.subscribe()
        await log.record(SubmissionRecord(id="1", op=UserInputOp(
            items=[TextInput(text="hi")])))
        await log.record(TaskStarted(turn_id="t"))
        await log.persist()
        while subscription.get_nowait() is not None:
            pass
        print("SHOWN", flush=True)
        await log.record(ExecCommandEnd(call_id="c", exit_code=0,
                                        aggregated_output="x" * 1000))
        await log.record(TaskComplete(turn_id="t"))
        print("TURN END", flush=True)
        print(log.path, flush=True)
        await log.close()

    asyncio.run(main())
""")


def _traced(tmp_path: Path, fsync: str) -> tuple[list[str], Path]:
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed: the fsyncs of a writer cannot be observed")
    trace = tmp_path / "trace"
    home = tmp_path / "home"
    done = subprocess.run(
        [strace, "-f", "-qq", "-e", "trace=openat,fsync,fdatasync,write",
         "-e", "signal=none", "-s", "20", "-o", str(trace), sys.executable, "-c", WRITER,
         str(home), fsync],
        capture_output=True, text=True, timeout=WAIT_SECONDS, cwd=PROJECT_ROOT, check=False,
    )
    if done.returncode != 0 and "PTRACE" in done.stderr.upper():
        pytest.skip(f"strace cannot trace here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.splitlines()[-1])
    return trace.read_text().splitlines(), path


def _fsynced_paths(calls: list[str]) -> list[str]:
    """Each fsync in order, as the path its descriptor was opened with (the last openat
    that returned that descriptor before it), then markers for the lines printed."""
    opened: dict[str, str] = {}
    events: list[str] = []
    for call in calls:
        body = call.split(None, 1)[1] if call[:1].isdigit() else call
        if match := re.match(r'openat\(AT_FDCWD, "([^"]+)", .*\) = (\d+)$', body):
            opened[match.group(2)] = match.group(1)
        elif match := re.match(r"f(?:data)?sync\((\d+)\)\s+= 0$", body):
            events.append(opened.get(match.group(1), "?"))
        elif match := re.match(r'write\(1, "([A-Z ]+)', body):
            events.append(match.group(1))
    return events


@pytest.mark.parametrize("fsync", ["turn", "always"])
async def test_new_folder_entries_are_fsynced_with_the_file(
    tmp_path: Path, fsync: str
) -> None:
    calls, path = _traced(tmp_path, fsync)
    events = _fsynced_paths(calls)
    blobs = str(path.with_name(path.name.removesuffix(".jsonl") + ".blobs"))
    day, month, year = path.parent, path.parent.parent, path.parent.parent.parent
    before_shown = events[: events.index("SHOWN")]
    before_end = events[: events.index("TURN END")]
    if fsync == "always":
        # The batch that created the file was fsynced, its folder entries too, before
        # anything was shown.
        assert str(path) in before_shown
        for folder in (day, month, year, path.parent.parent.parent.parent):
            assert str(folder) in before_shown, (folder, before_shown)
    else:
        assert before_shown == []
    # By the end of the turn (fsynced by both policies): the file, its folder and the
    # blob's folder, each folder after the entry it holds was made.
    assert str(path) in before_end
    assert str(day) in before_end
    assert blobs in before_end
    assert str(month) in before_end
    assert str(year) in before_end
