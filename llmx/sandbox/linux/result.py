"""What a confined command produced, and whether the sandbox refused it."""

from __future__ import annotations

from llmx.sandbox.failure import SandboxFailure
from llmx.sandbox.linux.backends import BackendKind
from llmx.sandbox.linux.denials import DenialKind, detect_denial
from llmx.sandbox.records import record


class SandboxSetupError(SandboxFailure, RuntimeError):
    """The child could not enter the sandbox; the command never started."""


SETUP_TODO = "`llmx sandbox explain` says what this machine's backends can do"


@record
class ConfinedResult:
    """The outcome of one command; ``exit_code`` is shell-style (128+N for signal N)."""

    exit_code: int
    stdout: bytes
    stderr: bytes
    # stdout and stderr interleaved in the order they arrived.
    aggregated: bytes
    duration_s: float
    timed_out: bool
    denied: DenialKind | None
    # None when the plan was unconfined and the command ran as is.
    backend: BackendKind | None


def shell_exit_code(returncode: int) -> int:
    """``subprocess`` reports a signal death as -N; shells and Codex say 128+N."""
    return 128 - returncode if returncode < 0 else returncode


def make_result(returncode: int, stdout: bytes, stderr: bytes, aggregated: bytes,
                duration_s: float, timed_out: bool, backend: BackendKind | None) -> ConfinedResult:
    code = shell_exit_code(returncode)
    denied = None
    if backend is not None and not timed_out:
        denied = detect_denial(code, stderr, stdout, aggregated)
    return ConfinedResult(code, stdout, stderr, aggregated, duration_s, timed_out, denied,
                          backend)
