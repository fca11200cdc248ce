"""Escalation: re-running a command with more permissions than the turn's sandbox grants.

A command reaches this module when the sandbox denied it, or when the model asked for
``sandbox_permissions: "require_escalated"``. It runs again only after an approval, and
the mode it runs in is written to the log as an ``escalation`` line of our own (a new
``type``, so Codex's reader skips it), before the command starts.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from llmx.events.records import Approver, EscalationRecord, ExecutionMode
from llmx.runtime.approvals import SandboxPermissions
from llmx.runtime.session_types import SandboxSetup
from llmx.runtime.tools.shell import Spawner
from llmx.sandbox.additional_permissions import (
    EMPTY,
    MISSING,
    WITHOUT_MODE,
    AdditionalPermissions,
    parse_additional_permissions,
)
from llmx.sandbox.policy import PolicyError

__all__ = [
    "Approver",
    "EscalationRecord",
    "EscalationTrigger",
    "Execution",
    "ExecutionMode",
    "additional_request",
    "escalation_record",
    "execution_for",
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


class Execution(msgspec.Struct, frozen=True):
    """How one shell call runs, once whatever approval it needs is given."""

    spawner: Spawner
    # False only when the command runs with no sandbox at all.
    sandboxed: bool
    # The ``escalation`` line's mode; None when the call runs under the turn's sandbox as
    # asked (no escalation to record).
    mode: ExecutionMode | None = None
    # What the ``escalation`` line records as ``permissions`` (bounded runs).
    permissions: dict[str, Any] | None = None
    # The request, for the approval request and the approval cache's key.
    additional: dict[str, Any] | None = None
    # The reason an escalation was not granted as asked.
    note: str | None = None


def additional_request(
    permissions: SandboxPermissions, raw: object, *, cwd: Path
) -> AdditionalPermissions | str | None:
    """The normalised ``additional_permissions`` of a call (None when absent), or the
    refusal text when they are malformed or come without ``with_additional_permissions``."""
    if permissions is not SandboxPermissions.WITH_ADDITIONAL_PERMISSIONS:
        return WITHOUT_MODE if raw is not None else None
    if raw is None:
        return None
    try:
        return parse_additional_permissions(raw, cwd=cwd)
    except PolicyError as exc:
        return f"failed to parse function arguments: {exc}"


def execution_for(
    permissions: SandboxPermissions,
    additional: AdditionalPermissions | None,
    sandbox: SandboxSetup,
) -> Execution | str:
    """How a call asking for ``permissions`` runs (or the refusal text for the model).

    - ``use_default``: the turn's sandbox.
    - ``require_escalated``: no sandbox, unless the profile denies reads, which only the
      sandbox enforces; then the turn's sandbox, as Codex keeps it.
    - ``with_additional_permissions``: the turn's profile with the request merged in,
      confined by the plan built from it, never unconfined.
    """
    if not sandbox.filesystem_restricted or permissions is SandboxPermissions.USE_DEFAULT:
        return Execution(sandbox.confined, sandbox.filesystem_restricted)
    if permissions is SandboxPermissions.REQUIRE_ESCALATED:
        if sandbox.denies_reads:
            return Execution(
                sandbox.confined, True, ExecutionMode.TURN_DEFAULT,
                note="kept in the sandbox: the permission profile denies reads that only "
                "the sandbox enforces",
            )
        return Execution(sandbox.unconfined, False, ExecutionMode.UNSANDBOXED)
    if additional is None:
        return MISSING
    if additional.is_empty:
        return EMPTY
    if sandbox.widen is None or sandbox.spawner_for is None:
        return "additional permissions cannot be granted: this session's sandbox was not " \
            "resolved from a permission profile"
    try:
        bounded = sandbox.widen(additional)
    except PolicyError as exc:
        return f"additional permissions cannot be enforced: {exc}"
    return Execution(
        sandbox.spawner_for(bounded.plan), True, ExecutionMode.BOUNDED,
        permissions=bounded.escalation_permissions(), additional=additional.to_dict(),
    )


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
    permissions: dict[str, Any] | None = None,
) -> EscalationRecord:
    """The ``escalation`` line for one re-run: its mode, its authority, its permissions
    (for a bounded run, the profile it ran under and the request) and why."""
    reason = f"{trigger.value}: {justification}" if justification else trigger.value
    record = EscalationRecord(
        call_id=call_id,
        mode=mode,
        approved_by=approved_by,
        turn_id=turn_id,
        permissions=permissions,
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
