"""A real terminal emulator for whole-program tests: a private tmux server.

The program runs in a tmux pane of a known size; the test types with ``send-keys`` and
reads the screen with ``capture-pane``, as a person would see it. Each instance has its
own server socket, killed (with everything in it) on exit.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import pytest

from support.waits import WAIT_SECONDS

TMUX = shutil.which("tmux")
needs_tmux = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")


class Tmux:
    """``argv`` in a detached tmux pane of ``columns`` x ``rows``."""

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path,
                 columns: int = 100, rows: int = 30) -> None:
        assert TMUX is not None
        self._socket = f"llmx-test-{uuid.uuid4().hex[:12]}"
        # The pane's shell line: the environment is given whole (nothing of the test
        # runner's leaks in), and the pane stays after the program ends so its last
        # screen and exit status can be read.
        exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
        command = f"env -i {exports} {shlex.join(argv)}"
        self._tmux("-f", "/dev/null", "new-session", "-d", "-x", str(columns), "-y", str(rows),
                   "-c", str(cwd), command, ";", "set-option", "-g", "remain-on-exit", "on")

    def _tmux(self, *args: str) -> str:
        assert TMUX is not None
        done = subprocess.run([TMUX, "-L", self._socket, *args], capture_output=True,
                              text=True, timeout=WAIT_SECONDS, check=False)
        if done.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def screen(self) -> str:
        """The pane as it shows now, one line per row, without colours."""
        return self._tmux("capture-pane", "-p", "-t", "0")

    def pane_format(self, name: str) -> str:
        """A value tmux knows of the pane: ``alternate_on`` (the program switched to the
        alternate screen), ``mouse_any_flag`` (it asked for mouse reports)..."""
        return self._tmux("display-message", "-p", "-t", "0", f"#{{{name}}}").strip()

    def screen_with_escapes(self) -> str:
        """The pane as it shows now, with the escape sequences of its colours and
        attributes (``capture-pane -e``)."""
        return self._tmux("capture-pane", "-p", "-e", "-t", "0")

    def scrollback(self) -> str:
        """Everything the pane printed that is still kept, the rows scrolled away first."""
        return self._tmux("capture-pane", "-p", "-S", "-", "-t", "0")

    def printed(self) -> str:
        """Everything the pane printed that is still kept, with the rows a long line
        wrapped onto joined back (``capture-pane -J``): the lines as the program wrote
        them, whatever the terminal's width."""
        return self._tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "0")

    def expect(self, text: str, *, timeout: float = WAIT_SECONDS) -> str:
        """Wait until ``text`` is on the screen; the screen then."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if text in shown:
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; the screen shows:\n{shown}")
            time.sleep(0.05)

    def settled(self, *, quiet: float = 0.5, timeout: float = WAIT_SECONDS) -> str:
        """The screen once it has not changed for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        shown, since = self.screen(), time.monotonic()
        while time.monotonic() - since < quiet:
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen never settled; it shows:\n{shown}")
            time.sleep(0.05)
            now = self.screen()
            if now != shown:
                shown, since = now, time.monotonic()
        return shown

    def resize(self, columns: int, rows: int) -> None:
        """Resize the terminal, as a person dragging its window's corner."""
        self._tmux("resize-window", "-t", "0", "-x", str(columns), "-y", str(rows))

    def expect_gone(self, text: str, *, timeout: float = WAIT_SECONDS) -> str:
        """Wait until ``text`` is no longer on the screen; the screen then."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if text not in shown:
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never went away; the screen shows:\n{shown}")
            time.sleep(0.05)

    def pid(self) -> int:
        """The pid of the program in the pane (the pane's own process)."""
        return int(self._tmux("display-message", "-p", "-t", "0", "#{pane_pid}").strip())

    def send(self, *keys: str) -> None:
        """tmux key names (``Enter``, ``C-c``, ``Escape``) or literal text."""
        self._tmux("send-keys", "-t", "0", *keys)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", "0", "-l", text)

    def exit_status(self, *, timeout: float = WAIT_SECONDS) -> int:
        """Wait for the program to end; its exit status."""
        deadline = time.monotonic() + timeout
        while True:
            out = self._tmux("display-message", "-p", "-t", "0",
                             "#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}")
            dead, status, signal = out.strip().split("|")
            if dead == "1" and status:
                return int(status)
            if dead == "1" and signal:
                return 128 + int(signal)
            if dead == "1":
                # The pane is dead (its terminal closed) but tmux has not reaped the
                # program: tmux 3.3 sometimes misses its SIGCHLD and never does. The
                # zombie still holds its wait status.
                zombie = _zombie_status(self.pid())
                if zombie is not None:
                    return zombie
            if time.monotonic() > deadline:
                raise AssertionError(f"the program did not end; the screen shows:\n{self.screen()}")
            time.sleep(0.05)

    def close(self) -> None:
        assert TMUX is not None
        subprocess.run([TMUX, "-L", self._socket, "kill-server"], capture_output=True,
                       timeout=WAIT_SECONDS, check=False)

    def __enter__(self) -> Tmux:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _zombie_status(pid: int) -> int | None:
    """The exit status of ``pid`` if it has ended and is not reaped yet (a zombie): the
    wait status is the last field of ``/proc/PID/stat`` (Linux 3.5 and later)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    if not fields or fields[0] != "Z":
        return None
    code = os.waitstatus_to_exitcode(int(fields[-1]))
    return code if code >= 0 else 128 - code
