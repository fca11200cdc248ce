"""Escalation: re-running a command with more permissions than the turn's sandbox grants.

A command reaches this module when the sandbox denied it, or when the model asked for
``sandbox_permissions: "require_escalated"``. It runs again only after an approval, and
the mode it runs in is written to the log as an ``escalation`` line of our own (a new
``type``, so Codex's reader skips it), before the command starts.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

ESCALATION_LINE_TYPE = "escalation"

# Substrings of a failed command's output that mean the sandbox, not the command, said no.
_DENIAL_MARKERS = (
    "operation not permitted",
    "permission denied",
    "read-only file system",
    "seccomp",
    "sandbox",
    "landlock",
    "failed to write file",
)
# 128 + SIGSYS: seccomp killed the process.
_SIGSYS_EXIT = 159


class ExecutionMode(enum.Enum):
    """How an approved command is run."""

    # Under the turn's own sandbox policy (nothing widened).
    TURN_DEFAULT = "turn_default"
    # Outside any sandbox.
    UNSANDBOXED = "unsandboxed"
    # Still confined, with bounded extra permissions (listed in the record).
    EXTRA_PERMISSIONS = "extra_permissions"


class EscalationTrigger(enum.Enum):
    """Why the command was escalated."""

    # The model asked with ``sandbox_permissions: "require_escalated"``.
    MODEL_REQUEST = "model_request"
    # The sandboxed run failed with a sandbox denial and the policy offers a retry.
    SANDBOX_DENIAL = "sandbox_denial"


@dataclass(frozen=True)
class EscalationRecord:
    call_id: str
    turn_id: str
    command: tuple[str, ...]
    trigger: EscalationTrigger
    mode: ExecutionMode
    decision: str
    justification: str | None = None
    extra_permissions: tuple[str, ...] = ()

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "call_id": self.call_id,
            "turn_id": self.turn_id,
            "command": list(self.command),
            "trigger": self.trigger.value,
            "mode": self.mode.value,
            "decision": self.decision,
        }
        if self.justification is not None:
            payload["justification"] = self.justification
        if self.extra_permissions:
            payload["extra_permissions"] = list(self.extra_permissions)
        return payload


def likely_sandbox_denial(
    *, sandboxed: bool, exit_code: int, outputs: Sequence[str]
) -> bool:
    """Codex's ``is_likely_sandbox_denied``: a guess from the exit code and the output."""
    if not sandboxed or exit_code == 0:
        return False
    lowered = [text.lower() for text in outputs]
    if any(marker in text for text in lowered for marker in _DENIAL_MARKERS):
        return True
    if exit_code in (2, 126, 127):
        return False
    return exit_code == _SIGSYS_EXIT
