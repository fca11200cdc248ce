"""A real process on a pseudo-terminal, for what a command does when a person is there.

The child gets a new session whose controlling terminal is the pty: stdin and stderr
(and stdout unless it is captured on a pipe) are the terminal, ``isatty()`` is true and
``/dev/tty`` opens, as in a shell. The test reads what the terminal shows and types keys.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import subprocess
import termios
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from support.waits import WAIT_SECONDS

# Colour and cursor sequences, for tests that read the text a person sees.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _become_terminal_session() -> None:
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """``argv`` running with the pty as its terminal; ``screen`` is all it showed there."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        capture_stdout: bool = False,
        columns: int = 120,
    ) -> None:
        master, slave = os.openpty()
        # A terminal of known size: what wraps, and where, must not depend on the runner.
        fcntl.ioctl(slave, termios.TIOCSWINSZ, _winsize(40, columns))
        self._master = master
        self._raw = b""
        self._process = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=subprocess.PIPE if capture_stdout else slave,
            stderr=slave,
            cwd=cwd,
            env=dict(env),
            preexec_fn=_become_terminal_session,
            close_fds=True,
        )
        os.close(slave)

    @property
    def screen(self) -> str:
        """Everything shown so far, decoded, with ``\\r\\n`` as ``\\n``."""
        return self._raw.decode("utf-8", "replace").replace("\r\n", "\n")

    def expect(self, text: str) -> str:
        """Read until ``text`` is on the screen (colours ignored); the screen so far."""
        deadline = time.monotonic() + WAIT_SECONDS
        while text not in strip_ansi(self.screen):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read(remaining):
                raise AssertionError(f"{text!r} never appeared; the terminal shows:\n{self.screen}")
        return self.screen

    def type(self, keys: str) -> None:
        os.write(self._master, keys.encode())

    def finish(self) -> int:
        """Read to the end of the output and return the exit status (each wait bounded by
        ``WAIT_SECONDS``)."""
        while self._read(WAIT_SECONDS):
            pass
        return self._process.wait(timeout=WAIT_SECONDS)

    def stdout(self) -> str:
        """What went to the captured stdout pipe (after :meth:`finish`)."""
        assert self._process.stdout is not None
        return self._process.stdout.read().decode("utf-8", "replace")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self._master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self._master, 65536)
        except OSError:  # EIO: the child closed its side of the terminal
            return False
        self._raw += chunk
        return bool(chunk)

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()  # bounded by the SIGKILL just sent
        if self._process.stdout is not None:
            self._process.stdout.close()
        os.close(self._master)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _winsize(rows: int, columns: int) -> bytes:
    import struct

    return struct.pack("HHHH", rows, columns, 0, 0)
