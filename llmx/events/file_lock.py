"""Bounded advisory locks: ``history.jsonl``, its offset index, and a rollout's writer.

Codex tries the history lock 10 times with 100 ms sleeps and then gives up. We keep the
same bound (10 rounds of 100 ms, one second in all) but poll within each round: with many
concurrent writers the lock is held for microseconds at a time, and sleeping a full 100 ms
after every miss would turn a busy file into a slow one (and starve unlucky writers).

The lock is ``flock(2)``, the advisory lock Codex takes on Unix, called directly: a locking
library (portalocker, which wraps the same call) added nothing here and ~18 ms of imports to
every ``exec`` start-up. A ``flock`` belongs to an open file description, so two opens of
one file in one process exclude each other too, and the kernel drops it when its holder
dies, however it dies.
"""

from __future__ import annotations

import enum
import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

LOCK_ROUNDS = 10
LOCK_ROUND_SECONDS = 0.1
_FIRST_POLL_SECONDS = 0.0005
_MAX_POLL_SECONDS = 0.01


class LockMode(enum.Enum):
    SHARED = fcntl.LOCK_SH
    EXCLUSIVE = fcntl.LOCK_EX


class LockTimeout(OSError):
    """The lock stayed held by another process for the whole bounded wait."""

    def __init__(self, what: str) -> None:
        rounds = f"{LOCK_ROUNDS} x {int(LOCK_ROUND_SECONDS * 1000)} ms"
        super().__init__(
            f"could not lock {what} within {rounds}: another llmx or codex process holds it "
            "— retry, or look for a stuck process"
        )


def acquire(descriptor: int, mode: LockMode) -> bool:
    """Take the lock on ``descriptor``, waiting at most the bounded time; False if it
    stayed held (by another open of the file, in this process or another)."""
    operation = mode.value | fcntl.LOCK_NB
    deadline = time.monotonic() + LOCK_ROUNDS * LOCK_ROUND_SECONDS
    pause = _FIRST_POLL_SECONDS
    while True:
        try:
            fcntl.flock(descriptor, operation)
            return True
        except OSError:  # held elsewhere (EWOULDBLOCK), or not lockable right now
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, _MAX_POLL_SECONDS)


@contextmanager
def locked(handle: BinaryIO, mode: LockMode, what: str) -> Iterator[None]:
    """Hold an advisory ``flock`` on ``handle`` for the duration of the block."""
    descriptor = handle.fileno()
    if not acquire(descriptor, mode):
        raise LockTimeout(what)
    try:
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
