"""The descriptors a confined command starts with: its stdin, stdout and stderr, nothing
else of the caller's, and no way back to the caller's files through them.

A descriptor names an open file, and ``/proc/self/fd/N`` reopens that file by its path
as the caller's mount saw it, with any access its permissions allow: a file the caller
gave as stdin read-only could be reopened for writing. Where Landlock fences the command
(own backend, landlock backend) the reopened path is checked against its rules; bubblewrap
has no such fence, so there a stdin that can be reopened by path is handed over through a
pipe instead.
"""

from __future__ import annotations

import contextlib
import os
import stat


def keep_only(kept: tuple[int, ...]) -> None:
    """Make every descriptor above stderr close on exec, but ``kept``."""
    for entry in os.listdir("/proc/self/fd"):
        fd = int(entry)
        if fd > 2 and fd not in kept:
            with contextlib.suppress(OSError):  # the listing's own descriptor, now gone
                os.set_inheritable(fd, False)


def reopenable(fd: int) -> bool:
    """Whether ``fd`` is a file, folder or block device: something a path reopens (a pipe,
    socket or terminal reopens as itself, granting nothing new)."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False  # closed
    return stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISBLK(mode)


def relay(fd: int) -> int:
    """A pipe's read end that yields what ``fd`` reads (nothing for a folder), fed by a
    process of its own (detached: nobody needs to reap it). The caller owns the result."""
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    child = os.fork()
    if child == 0:
        try:
            if os.fork() == 0:
                _copy(fd, write_end)
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    return read_end


def _copy(source: int, sink: int) -> None:
    low = 0
    for kept in sorted((source, sink)):
        if low < kept:  # os.closerange(3, 0) would close everything from 3 up
            os.closerange(low, kept)
        low = kept + 1
    os.closerange(low, 1 << 20)
    with contextlib.suppress(OSError):  # the reader went away: nothing more to feed
        while chunk := os.read(source, 65536):
            while chunk:
                chunk = chunk[os.write(sink, chunk):]
