"""One writer per rollout, and no repair of a live file, with real separate processes.

A live writer (``tests/support/rollout_writer.py``, the ``EventLog`` every frontend uses)
appends megabyte lines as fast as it can, so its last line is often half written when
another process looks. Everything that would change the file from outside, a repair or a
second writer, must be refused while it lives, and afterwards every line it acknowledged
must be there, with ordinals running without a gap or a repeat.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from support import PROJECT_ROOT
from support.waits import wait_readable

from llmx.events.ids import new_thread_id
from llmx.events.reader import RolloutReader
from llmx.events.writer_lock import RolloutBusy, current_writer, cut_torn_tail

WRITER = PROJECT_ROOT / "tests" / "support" / "rollout_writer.py"
# Batches of two 1 MiB lines the writer acknowledges while another process probes.
BATCHES_PROBED = 30


class LiveWriter:
    """The writer process, its rollout, and the ordinals it acknowledged so far."""

    def __init__(self, home: Path, *, line_bytes: int = 1 << 20, pause: float = 0.002) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(WRITER), str(home), new_thread_id(),
             "--line-bytes", str(line_bytes), "--pause", str(pause)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.process.stdout is not None
        wait_readable(self.process.stdout.fileno(), "the writer to print its rollout's path")
        first = self.process.stdout.readline().split(maxsplit=1)
        assert first[0] == "path", first
        self.path = Path(first[1].strip())
        self.acks: list[int] = []
        self._first_ack = threading.Event()
        self._reader = threading.Thread(target=self._read_acks, daemon=True)
        self._reader.start()
        assert self._first_ack.wait(60), "the writer acknowledged nothing"

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read_acks(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.acks.append(int(line.split()[1]))
            self._first_ack.set()

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        assert self.process.wait(timeout=60) == 0
        self._reader.join(timeout=60)
        assert self.process.stdout is not None
        self.process.stdout.close()


def ends_mid_line(path: Path) -> bool:
    """What a reader sees of a torn tail: the file's last byte is not a newline."""
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        return size > 0 and os.pread(handle.fileno(), 1, size - 1) != b"\n"


def assert_nothing_lost(path: Path, acks: list[int]) -> None:
    reader = RolloutReader(path)
    ordinals = [line.ordinal for line in reader]
    assert reader.problems == []
    assert reader.torn_tail is None
    assert ordinals == list(range(len(ordinals))), "ordinals repeat or skip"
    assert acks, "the writer acknowledged nothing"
    assert ordinals[-1] >= acks[-1], f"acknowledged up to {acks[-1]}, file ends at {ordinals[-1]}"


def test_repair_of_a_live_file_is_refused_and_cuts_nothing(tmp_path: Path) -> None:
    writer = LiveWriter(tmp_path / "home")
    looked_torn = probes = 0
    try:
        until = len(writer.acks) + BATCHES_PROBED
        while len(writer.acks) < until:
            probes += 1
            if ends_mid_line(writer.path):
                looked_torn += 1  # a write in progress, which a reader cannot tell apart
            with pytest.raises(RolloutBusy) as refused:
                cut_torn_tail(writer.path)
            assert refused.value.holder.pid == writer.pid
        # The command a user runs: reports the writer, never cuts.
        checked = subprocess.run(
            [sys.executable, "-m", "llmx", "rollout", "check", "--repair", "--json",
             str(writer.path)],
            capture_output=True, text=True, timeout=60, check=False, cwd=PROJECT_ROOT,
        )
        report = json.loads(checked.stdout)
        assert report["writer"]["pid"] == writer.pid
        assert "Traceback" not in checked.stderr
        if report["torn_tail"] is not None:
            assert report["torn_tail"]["cut"] is False
            assert checked.returncode == 1
            assert f"process {writer.pid}" in checked.stderr
            assert checked.stderr.startswith("llmx rollout check: ")
    finally:
        writer.stop()
    print(f"{probes} probes of a live file, {looked_torn} saw its last line half written")
    assert_nothing_lost(writer.path, writer.acks)
    assert current_writer(writer.path) is None


def resume_in_another_process(path: Path, *, ephemeral: bool) -> subprocess.CompletedProcess[str]:
    """``EventLog.resume(path)`` in a process of its own; exit 3 and the holder's pid and
    the message on stdout when it is refused."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from llmx.events.event_log import EventLog\n"
        "from llmx.events.writer_lock import RolloutBusy\n"
        "try:\n"
        "    EventLog.resume(Path(sys.argv[1]), ephemeral=sys.argv[2] == 'yes')\n"
        "except RolloutBusy as busy:\n"
        "    print(busy.holder.pid, busy)\n"
        "    raise SystemExit(3)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(path), "yes" if ephemeral else "no"],
        capture_output=True, text=True, timeout=60, check=False, cwd=PROJECT_ROOT,
    )


def test_a_second_writer_through_the_writer_api_is_refused(tmp_path: Path) -> None:
    writer = LiveWriter(tmp_path / "home")
    try:
        second = resume_in_another_process(writer.path, ephemeral=False)
        assert second.returncode == 3, second.stderr
        pid, message = second.stdout.split(maxsplit=1)
        assert int(pid) == writer.pid
        assert f"is being written by process {writer.pid}: " in message
        assert "rollout_writer.py" in message  # the holder's command line
        # Ephemeral reads are harmless: no lock, no cut, nothing written.
        ephemeral = resume_in_another_process(writer.path, ephemeral=True)
        assert ephemeral.returncode == 0, ephemeral.stderr
    finally:
        writer.stop()
    assert_nothing_lost(writer.path, writer.acks)


def test_a_second_writer_in_the_same_process_is_refused(tmp_path: Path) -> None:
    import asyncio

    from llmx.events.event_log import EventLog
    from llmx.events.event_msgs import TaskStarted

    writer = LiveWriter(tmp_path / "home", line_bytes=64)
    writer.stop()
    first = EventLog.resume(writer.path)
    with pytest.raises(RolloutBusy, match=f"this process {os.getpid()}"):
        EventLog.resume(writer.path)

    async def finish() -> None:
        await first.record(TaskStarted(turn_id="t"))
        await first.close()

    asyncio.run(finish())
    # Closed: the lock is free again.
    asyncio.run(EventLog.resume(writer.path).close())
    assert_nothing_lost(writer.path, writer.acks)


def test_a_stale_torn_tail_is_still_cut(tmp_path: Path) -> None:
    writer = LiveWriter(tmp_path / "home", line_bytes=64)
    writer.stop()
    with writer.path.open("ab") as handle:
        handle.write(b'{"timestamp":"2026-')  # what a killed writer leaves
    torn = cut_torn_tail(writer.path)
    assert torn is not None
    assert torn.length == len(b'{"timestamp":"2026-')
    assert_nothing_lost(writer.path, writer.acks)


def test_the_writer_removes_partial_blobs_a_killed_writer_left(tmp_path: Path) -> None:
    import asyncio

    from llmx.events.event_log import EventLog
    from llmx.events.outputs import blob_path

    writer = LiveWriter(tmp_path / "home", line_bytes=64)
    writer.stop()
    blobs = blob_path(writer.path, "0" * 64).parent
    blobs.mkdir(mode=0o700)
    whole = blobs / ("a" * 64)
    whole.write_bytes(b"kept")
    orphan = blobs / f".{'b' * 64}.4242.partial"
    orphan.write_bytes(b"half of a blo")
    asyncio.run(EventLog.resume(writer.path).close())
    assert not orphan.exists()
    assert whole.read_bytes() == b"kept"
