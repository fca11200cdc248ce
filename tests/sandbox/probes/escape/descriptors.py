"""Using what the caller had open: descriptors passed down, and the caller's stdin (a file
opened read-only) reopened for writing."""

from __future__ import annotations

import contextlib
import os
import socket

from common import AT_START, mark

_INHERITED = [fd for fd in AT_START if fd > 2]


def inherited_fd_write(name: str) -> None:
    for fd in _INHERITED:
        with contextlib.suppress(OSError):
            os.write(fd, mark(name).encode())


def inherited_fd_reopen(name: str) -> None:
    for fd in _INHERITED:
        with contextlib.suppress(OSError):
            reopened = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_APPEND)
            os.write(reopened, mark(name).encode())


def inherited_dir_fd(name: str) -> None:
    for fd in _INHERITED:
        with contextlib.suppress(OSError):
            created = os.open(f"{name}.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
            os.write(created, mark(name).encode())


def inherited_socket_send(name: str) -> None:
    for fd in _INHERITED:
        with contextlib.suppress(OSError):
            socket.socket(fileno=os.dup(fd)).send(mark(name).encode())


def stdin_reopen_write(name: str) -> None:
    fd = os.open("/proc/self/fd/0", os.O_WRONLY | os.O_APPEND)
    os.write(fd, mark(name).encode())
