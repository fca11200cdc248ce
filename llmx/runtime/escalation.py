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
    """How an approved command is run (the ``mode`` of the ``escalation`` line)."""

    # Under the turn's own sandbox policy (nothing widened).
    TURN_DEFAULT = "turn_default"
    # Outside any sandbox.
    UNSANDBOXED = "unsandboxed"
    # Still confined, with bounded extra permissions (listed in the record).
    BOUNDED = "bounded"


class Approver(enum.Enum):
    """Who allowed the escalation (the ``approved_by`` of the ``escalation`` line)."""

    # A person answered the approval request.
    USER = "user"
    # An earlier ``approved_for_session`` answer covered this command.
    SESSION = "session"


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
    approved_by: Approver
    justification: str | None = None
    # The ``submission`` id of the decision that approved it (USER approvals).
    decision_submission_id: str | None = None
    permissions: dict[str, Any] | None = None

    def payload(self) -> dict[str, Any]:
        reason = f"{self.trigger.value}: {self.justification}" if self.justification else (
            self.trigger.value
        )
        payload: dict[str, Any] = {
            "call_id": self.call_id,
            "mode": self.mode.value,
            "approved_by": self.approved_by.value,
            "turn_id": self.turn_id,
            "permissions": self.permissions,
            "command": list(self.command),
            "reason": reason,
        }
        if self.decision_submission_id is not None:
            payload["decision_submission_id"] = self.decision_submission_id
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
