"""``llmx sandbox linux --log-denials -- CMD``: run a confined command and wait.

``run_confined_blocking`` keeps a parent around (needed to report denials) and forwards
the usual terminal signals to the command's process group. The path that only runs the
command, with no parent left, is ``exec_in_place``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from llmx.sandbox.linux import stdio
from llmx.sandbox.linux.backends import BackendKind
from llmx.sandbox.linux.prepare import prepare
from llmx.sandbox.linux.result import SETUP_TODO, ConfinedResult, SandboxSetupError, make_result
from llmx.sandbox.plan import ConfinementPlan

if TYPE_CHECKING:
    import subprocess
    from typing import BinaryIO

FORWARDED_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM)


def run_confined_blocking(
    argv: list[str],
    *,
    cwd: str | os.PathLike[str],
    plan: ConfinementPlan,
    env: Mapping[str, str] | None = None,
    capture: bool = False,
    backend: BackendKind | None = None,
) -> ConfinedResult:
    """Run ``argv`` under ``plan`` and wait; with ``capture``, output is collected (and
    still echoed to this process's stdout/stderr, so a user sees it live)."""
    import subprocess  # here, not at import time: the exec path never needs it

    prepared = prepare(argv, cwd=cwd, plan=plan, env=env, backend=backend)
    started = time.monotonic()
    pipe = subprocess.PIPE if capture else None
    stdin = None
    try:
        if (prepared.backend is not None and not prepared.fenced_by_landlock
                and stdio.reopenable(0)):
            stdin = stdio.relay(0)
        proc = subprocess.Popen(
            prepared.argv, cwd=prepared.cwd, env=prepared.env, stdin=stdin, stdout=pipe,
            stderr=pipe, start_new_session=True, close_fds=True, pass_fds=prepared.pass_fds,
            preexec_fn=prepared.preexec)
    except BaseException:
        prepared.close()
        raise
    finally:
        if stdin is not None:
            os.close(stdin)
    prepared.close_child_side()

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED_SIGNALS}
    try:
        out, err, both = _collect(proc) if capture else (b"", b"", b"")
        returncode = proc.wait()
    finally:
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        failure = prepared.setup_error()
        prepared.close()
    if failure is not None:
        raise SandboxSetupError(f"could not confine {argv[0]} ({failure})", SETUP_TODO)
    return make_result(returncode, out, err, both, time.monotonic() - started, False,
                       prepared.backend)


def _collect(proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes, bytes]:
    import selectors

    assert proc.stdout is not None
    assert proc.stderr is not None
    streams: dict[int, tuple[list[bytes], BinaryIO]] = {
        proc.stdout.fileno(): ([], sys.stdout.buffer),
        proc.stderr.fileno(): ([], sys.stderr.buffer),
    }
    both: list[bytes] = []
    with selectors.DefaultSelector() as selector:
        for fd in streams:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            for key, _ in selector.select():
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fd)
                    continue
                sink, echo = streams[key.fd]
                sink.append(chunk)
                both.append(chunk)
                echo.write(chunk)
                echo.flush()
    out = b"".join(streams[proc.stdout.fileno()][0])
    err = b"".join(streams[proc.stderr.fileno()][0])
    return out, err, b"".join(both)
