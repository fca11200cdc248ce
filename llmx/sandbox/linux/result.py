"""What a confined command produced, and whether the sandbox refused it."""

from __future__ import annotations

from llmx.sandbox.failure import SandboxFailure
from llmx.sandbox.linux.backends import BackendKind
from llmx.sandbox.linux.denials import DenialKind, detect_denial
from llmx.sandbox.value import Value


class SandboxSetupError(SandboxFailure, RuntimeError):
    """The child could not enter the sandbox; the command never started."""


SETUP_TODO = "`llmx sandbox explain` says what this machine's backends can do"


class ConfinedResult(Value):
    """The outcome of one command; ``exit_code`` is shell-style (128+N for signal N)."""

    __slots__ = (
        "aggregated",
        "backend",
        "denied",
        "duration_s",
        "exit_code",
        "stderr",
        "stdout",
        "timed_out",
    )

    def __init__(
        self,
        exit_code: int,
        stdout: bytes,
        stderr: bytes,
        aggregated: bytes,
        duration_s: float,
        timed_out: bool,
        denied: DenialKind | None,
        backend: BackendKind | None,
    ) -> None:
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        # stdout and stderr interleaved in the order they arrived.
        self.aggregated = aggregated
        self.duration_s = duration_s
        self.timed_out = timed_out
        self.denied = denied
        # None when the plan was unconfined and the command ran as is.
        self.backend = backend


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
