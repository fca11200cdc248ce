"""Escalation: re-running a command with more permissions than the turn's sandbox grants.

A command reaches this module when the sandbox denied it, or when the model asked for
``sandbox_permissions: "require_escalated"``. It runs again only after an approval, and
the mode it runs in is written to the log as an ``escalation`` line of our own (a new
``type``, so Codex's reader skips it), before the command starts.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from llmx.events.records import Approver, EscalationRecord, ExecutionMode

__all__ = [
    "Approver",
    "EscalationRecord",
    "EscalationTrigger",
    "ExecutionMode",
    "escalation_record",
    "likely_sandbox_denial",
]

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


class EscalationTrigger(enum.Enum):
    """Why the command was escalated."""

    # The model asked with ``sandbox_permissions: "require_escalated"``.
    MODEL_REQUEST = "model_request"
    # The sandboxed run failed with a sandbox denial and the policy offers a retry.
    SANDBOX_DENIAL = "sandbox_denial"


def escalation_record(
    *,
    call_id: str,
    turn_id: str,
    command: Sequence[str],
    trigger: EscalationTrigger,
    mode: ExecutionMode,
    approved_by: Approver,
    justification: str | None = None,
    decision_submission_id: str | None = None,
) -> EscalationRecord:
    """The ``escalation`` line for one re-run: its mode, its authority and why."""
    reason = f"{trigger.value}: {justification}" if justification else trigger.value
    record = EscalationRecord(
        call_id=call_id,
        mode=mode,
        approved_by=approved_by,
        turn_id=turn_id,
        command=list(command),
        reason=reason,
    )
    if decision_submission_id is not None:
        record.decision_submission_id = decision_submission_id
    return record


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
