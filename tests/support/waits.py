"""Bounded waits: a test that waits for a process, a pipe or a condition gives up after
``WAIT_SECONDS`` with a message naming what it waited for, instead of hanging until
pytest-timeout stops the whole run (a process that never ends is the bug the test is
there to catch; it must fail that test, not the suite).

``tests/test_bounded_waits.py`` holds the suite to this: no ``subprocess.run`` or
``communicate`` without a timeout, no argument-less ``wait()`` or ``join()``.
"""

from __future__ import annotations

import asyncio
import os
import select
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# Far above what any wait of the suite needs on a loaded two-core machine, far below
# pytest-timeout's 300 s for the whole test.
WAIT_SECONDS = 60.0


def wait_until(condition: Callable[[], object], what: str, *,
               timeout: float = WAIT_SECONDS, interval: float = 0.01) -> None:
    """Poll ``condition`` until it is true; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def wait_readable(fd: int, what: str, *, timeout: float = WAIT_SECONDS) -> None:
    """Return once ``fd`` has data (or end of file) to read; fail after ``timeout`` s."""
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")


def read_within(fd: int, size: int, what: str, *, timeout: float = WAIT_SECONDS) -> bytes:
    """``os.read(fd, size)`` once data is there, failing after ``timeout`` s."""
    wait_readable(fd, what, timeout=timeout)
    return os.read(fd, size)


def wait_child(pid: int, what: str, *, timeout: float = WAIT_SECONDS) -> int:
    """Reap the child ``pid`` and return its wait status; after ``timeout`` s it is
    killed (so nothing is left behind) and the test fails naming ``what``."""
    pidfd = os.pidfd_open(pid)
    try:
        if not select.select([pidfd], [], [], timeout)[0]:
            os.kill(pid, 9)
            os.waitpid(pid, 0)  # bounded by the SIGKILL just sent
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
    finally:
        os.close(pidfd)
    return os.waitpid(pid, 0)[1]  # bounded by the select above: the child has ended


async def within(awaitable: Awaitable[T], what: str, *, seconds: float = WAIT_SECONDS) -> T:
    """Await ``awaitable``, failing naming ``what`` after ``seconds`` (it is cancelled)."""
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except TimeoutError:
        raise AssertionError(f"gave up after {seconds:.0f} s waiting for {what}") from None
