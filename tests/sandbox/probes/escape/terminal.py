"""Typing into a terminal the sandbox does not own: the caller's (keystrokes run in the
user's shell once llmx exits) and another one of the host's."""

from __future__ import annotations

import fcntl
import os
import termios

from common import CTX, mark

OTHER_PTY = str(CTX["other_pty"])


def _inject(fd: int, name: str) -> None:
    for char in f"{mark(name)}\n".encode():
        fcntl.ioctl(fd, termios.TIOCSTI, bytes((char,)))


def tiocsti_stdout(name: str) -> None:
    _inject(1, name)


def tiocsti_dev_tty(name: str) -> None:
    _inject(os.open("/dev/tty", os.O_RDWR), name)


def dev_tty_write(name: str) -> None:
    # Writing on the caller's terminal past any redirection (and reading what the user
    # types there, were the command in its foreground group).
    fd = os.open("/dev/tty", os.O_WRONLY)
    os.write(fd, f"{mark(name)}\n".encode())


def tiocsti_other_pty(name: str) -> None:
    _inject(os.open(OTHER_PTY, os.O_RDWR | os.O_NOCTTY), name)


def write_other_pty(name: str) -> None:
    fd = os.open(OTHER_PTY, os.O_WRONLY | os.O_NOCTTY)
    os.write(fd, f"{mark(name)}\n".encode())
