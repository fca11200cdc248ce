"""One writer per rollout: the lock a writer holds on its file for as long as it writes.

The rollout sink (:class:`~llmx.events.sinks.FileSink`) takes an exclusive ``flock`` on
the file when it opens it, before it reads or changes a byte, and keeps it until it
closes; the kernel drops it when the writer dies, however it dies. A second writer (in
another process, or a second one in the same process) waits the bounded lock time and is
refused with :class:`RolloutBusy`, which names the holder: its pid and command line, read
from ``/proc/locks`` and ``/proc/<pid>/cmdline`` where Linux offers them. Every frontend
opens its writer through the sink, so every frontend gets the check.

The lock is also what proves a tail torn. Every llmx writer writes only while holding it,
so a final line without its newline, seen by the holder, cannot be a write in progress
by another llmx writer: it was left by one that died. Only the holder cuts it
(:func:`cut_torn_tail_locked`), and ``llmx rollout check --repair`` cuts only after taking
the lock itself, so a live file is never repaired. Readers never take the lock: a reader
sees a live writer's last line as torn and reports it, and changes nothing. The Codex CLI
does not take this lock; a session a running Codex writes must not be resumed in llmx.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path
from typing import NamedTuple

from llmx.events.file_lock import LockMode, acquire
from llmx.events.outputs import remove_partial_blobs
from llmx.events.reader import TornTail, torn_tail_in

_PROC_LOCKS = Path("/proc/locks")
_COMMAND_CHARS = 200


class LockHolder(NamedTuple):
    """The process holding a rollout's writer lock (``pid`` 0: not known here)."""

    pid: int
    command: str | None

    def describe(self) -> str:
        if not self.pid:
            return "another process"
        who = "this process" if self.pid == os.getpid() else "process"
        command = f": {self.command}" if self.command else ""
        return f"{who} {self.pid}{command}"


class RolloutBusy(OSError):
    """Another writer holds the rollout: it is refused, one line naming the holder."""

    def __init__(self, path: Path, holder: LockHolder) -> None:
        self.path = path
        self.holder = holder
        self.what = f"{path} is being written by {holder.describe()}"
        self.todo = "let that writer finish (or stop it), then retry"
        super().__init__(errno.EWOULDBLOCK, f"{self.what} — {self.todo}", str(path))

    def __str__(self) -> str:
        return f"{self.what} — {self.todo}"


def lock_for_writing(fd: int, path: Path, *, wait: bool = True) -> None:
    """Make this open file description the rollout's writer, or raise :class:`RolloutBusy`.

    ``wait``: allow the bounded wait, for a lock held only for an instant (a reader asking
    :func:`current_writer`); without it, a held lock refuses at once.
    """
    if wait:
        taken = acquire(fd, LockMode.EXCLUSIVE)
    else:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            taken = True
        except BlockingIOError:
            taken = False
    if not taken:
        raise RolloutBusy(path, holder_of(fd))


def current_writer(path: Path) -> LockHolder | None:
    """The writer holding ``path`` now, None when nobody writes it (or it is missing).

    Asks by taking a shared lock and dropping it at once: a writer opening the file in
    that instant waits (bounded) rather than being refused.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return holder_of(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def holder_of(fd: int) -> LockHolder:
    """Who holds the exclusive ``flock`` on the file open at ``fd`` (from ``/proc/locks``)."""
    stat = os.fstat(fd)
    try:
        table = _PROC_LOCKS.read_text(encoding="ascii", errors="replace")
    except OSError:
        return LockHolder(0, None)
    device = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}"
    candidates: list[tuple[bool, int]] = []
    for entry in table.splitlines():
        fields = entry.split()
        # ``N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE START END``; waiters have ``->``.
        if len(fields) < 6 or fields[1] != "FLOCK" or fields[3] != "WRITE":
            continue
        major, _, rest = fields[5].partition(":")
        minor, _, inode = rest.partition(":")
        if inode != str(stat.st_ino) or not fields[4].isdigit():
            continue
        # Some file systems report another device number here than ``stat`` does.
        candidates.append((f"{major}:{minor}" == device, int(fields[4])))
    if not candidates:
        return LockHolder(0, None)
    pid = max(candidates)[1]
    return LockHolder(pid, _command_of(pid))


def _command_of(pid: int) -> str | None:
    with contextlib.suppress(OSError):
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        words = [word.decode("utf-8", "replace") for word in raw.split(b"\0") if word]
        if words:
            text = " ".join(words)
            return text if len(text) <= _COMMAND_CHARS else text[: _COMMAND_CHARS - 1] + "…"
    return None


def cut_torn_tail_locked(fd: int) -> TornTail | None:
    """Truncate the torn final line of the file open at ``fd`` (read-write), and fsync.

    The caller holds the writer lock (:func:`lock_for_writing`): that is what makes the
    tail torn rather than a write in progress.
    """
    torn = torn_tail_in(fd)
    if torn is not None:
        os.ftruncate(fd, torn.offset)
        os.fsync(fd)
    return torn


def cut_torn_tail(path: Path | str) -> TornTail | None:
    """As the file's writer for a moment: take the lock (:class:`RolloutBusy` if a writer
    holds it), cut a torn final line, let go."""
    return repair_as_writer(path)[0]


def repair_as_writer(path: Path | str) -> tuple[TornTail | None, int]:
    """As the file's writer for a moment (:class:`RolloutBusy` if a writer holds it): cut
    a torn final line and remove the partial blobs a killed writer left, as the next
    writer would; the tail cut and how many blobs went. What ``rollout check --repair``
    does."""
    target = Path(path)
    fd = os.open(target, os.O_RDWR | os.O_CLOEXEC)
    try:
        # No wait: a writer holding the file holds it for as long as it runs.
        lock_for_writing(fd, target, wait=False)
        return cut_torn_tail_locked(fd), remove_partial_blobs(target)
    finally:
        os.close(fd)
