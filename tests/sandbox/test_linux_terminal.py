"""``llmx sandbox linux`` on a terminal: the command runs in a session of its own (it cannot
type into or open the caller's terminal, see the escape suite), and the terminal's ^C,
which now reaches only llmx, still stops it, on every backend."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.linux_sandbox import alive
from support.unprivileged import status_for_tests
from support.waits import WAIT_SECONDS, wait_readable, wait_until

from llmx.sandbox.linux.backends import BackendKind


def _backend_param(kind: BackendKind) -> object:
    status = status_for_tests(kind)
    marks = [] if status.available else [
        pytest.mark.skip(reason=f"{kind.value} unavailable: {status.reason}")]
    return pytest.param(kind, id=kind.value, marks=marks)


def _sleepers(tag: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if tag.encode() in (entry / "cmdline").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return [pid for pid in found if alive(pid)]


@pytest.mark.parametrize("backend", [_backend_param(kind) for kind in BackendKind])
def test_interrupt_from_the_terminal_stops_the_command(backend: BackendKind,
                                                       tmp_path: Path) -> None:
    tag = f"61.{os.getpid()}{len(backend.value)}"
    main, follower = os.openpty()
    env = {**os.environ, "LLMX_HOME": str(tmp_path)}

    def controlling_terminal() -> None:
        import fcntl
        import termios

        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        # Started as a terminal's shell starts a job: SIGINT neither ignored nor blocked,
        # whatever an earlier test left in this process (both are inherited, and either
        # would keep ^C from llmx).
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    proc = subprocess.Popen(
        [sys.executable, "-m", "llmx", "sandbox", "linux", "--backend", backend.value, "--",
         "sh", "-c", f"echo ready; exec sleep {tag}"],
        stdin=follower, stdout=follower, stderr=follower, cwd=tmp_path, env=env,
        start_new_session=True, preexec_fn=controlling_terminal)
    os.close(follower)
    try:
        seen = b""
        while b"ready" not in seen:
            wait_readable(main, "the confined command to start")
            seen += os.read(main, 1024)
        wait_until(lambda: _sleepers(tag), "the sleep to be running")
        os.write(main, b"\x03")  # ^C: SIGINT to the terminal's foreground group
        code = proc.wait(timeout=WAIT_SECONDS)
        # llmx relays it (130), or was bubblewrap itself and died of it.
        assert code in (128 + signal.SIGINT, -signal.SIGINT), code
        wait_until(lambda: not _sleepers(tag), "the command to be gone")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=WAIT_SECONDS)
        for pid in _sleepers(tag):
            os.kill(pid, signal.SIGKILL)
        os.close(main)
