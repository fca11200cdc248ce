"""Did the sandbox refuse this command? What did it refuse?

The verdict follows Codex's heuristic (spec 8.6) so approvals can offer escalation:
refusal signatures in the output first, then exit codes that rule a denial out, then a
death by ``SIGSYS``. The findings for ``--log-denials`` come from the same signatures,
with the path each refusal names when the message names one.
"""

from __future__ import annotations

import enum
import signal

from llmx.sandbox.value import Value


class DenialKind(enum.Enum):
    """Which signature marked the command's failure as a sandbox refusal."""

    # EROFS: a write outside the writable roots or into a protected path.
    READ_ONLY_FILESYSTEM = "read-only file system"
    # EACCES: Landlock, a masked path, or plain file permissions.
    PERMISSION_DENIED = "permission denied"
    # EPERM: a syscall refused by seccomp (sockets, ptrace, io_uring) or Landlock.
    OPERATION_NOT_PERMITTED = "operation not permitted"
    # A tool that names the sandbox itself (seccomp, landlock, sandbox, failed to write file).
    SANDBOX_MESSAGE = "sandbox message"
    # Killed by SIGSYS: a seccomp kill action.
    SIGSYS = "killed by SIGSYS"


_SIGNATURES: tuple[tuple[str, DenialKind], ...] = (
    ("read-only file system", DenialKind.READ_ONLY_FILESYSTEM),
    ("permission denied", DenialKind.PERMISSION_DENIED),
    ("operation not permitted", DenialKind.OPERATION_NOT_PERMITTED),
    ("seccomp", DenialKind.SANDBOX_MESSAGE),
    ("sandbox", DenialKind.SANDBOX_MESSAGE),
    ("landlock", DenialKind.SANDBOX_MESSAGE),
    ("failed to write file", DenialKind.SANDBOX_MESSAGE),
)
# Exit codes that mean "usage error" or "command not found", never a refusal.
_NOT_DENIAL_CODES = frozenset({2, 126, 127})
SIGSYS_EXIT = 128 + signal.SIGSYS


def detect_denial(exit_code: int, *outputs: bytes) -> DenialKind | None:
    """The sandbox-denial verdict for a confined command that exited with ``exit_code``."""
    if exit_code == 0:
        return None
    for output in outputs:
        lowered = output.decode("utf-8", "replace").lower()
        for needle, kind in _SIGNATURES:
            if needle in lowered:
                return kind
    if exit_code in _NOT_DENIAL_CODES:
        return None
    if exit_code == SIGSYS_EXIT:
        return DenialKind.SIGSYS
    return None


class DenialFinding(Value):
    """One refusal seen in the output: its kind, the path it names (if any), the line."""

    __slots__ = ("kind", "line", "path")

    def __init__(self, kind: DenialKind, path: str | None, line: str) -> None:
        self.kind = kind
        self.path = path
        self.line = line


# A quoted path, or a bare absolute/relative path, next to the refusal message. Compiled
# on first use: ``re`` is not needed on the path that only runs a command.
# A quoted name counts even without a slash (``touch: cannot touch 'y': ...``): tools quote
# the operand they failed on.
_QUOTED_PATTERN = r"""['"`‘]((?:/|\.|~/)[^'"`’]*|[^'"`’\s]+)['"`’]"""
_BARE_PATTERN = (r"(?:^|[\s(])((?:/|\./|\.\./)[^\s:'\"()]+)"
                 # ``sh: 1: cannot create y: Read-only file system``: an unquoted operand.
                 r"|\b(?:cannot|can't) (?:create|touch|open|remove|write)(?: directory)? "
                 r"([^\s:'\"`]+):")


def find_denials(output: bytes) -> list[DenialFinding]:
    """Every output line carrying a refusal signature, with the path it mentions."""
    import re

    quoted, bare = re.compile(_QUOTED_PATTERN), re.compile(_BARE_PATTERN)
    findings = []
    seen: set[tuple[DenialKind, str | None]] = set()
    for raw in output.decode("utf-8", "replace").splitlines():
        lowered = raw.lower()
        kind = next((k for needle, k in _SIGNATURES if needle in lowered), None)
        if kind is None:
            continue
        match = quoted.search(raw) or bare.search(raw)
        path = next((g for g in match.groups() if g), None) if match else None
        if (kind, path) in seen:
            continue
        seen.add((kind, path))
        findings.append(DenialFinding(kind, path, raw.strip()))
    return findings


def format_denials(findings: list[DenialFinding]) -> list[str]:
    """Lines for ``--log-denials``: ``denied (<kind>): <path>``, or the line when no path."""
    return [f"denied ({f.kind.value}): {f.path if f.path else f.line}" for f in findings]
