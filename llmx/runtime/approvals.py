"""Approval policy: which commands and patches may run without asking, and the cache.

The decision table follows Codex's heuristic pipeline (``exec_policy.rs`` and the tool
orchestrator) for commands no rule file matches: known-safe commands pass under
``untrusted``; ``never`` and ``on-failure`` trust the sandbox; ``on-request`` lets the model
ask for escalation; a dangerous command always asks unless the policy forbids asking.
``untrusted`` and ``on-failure`` are kept although Codex 0.169 dropped them from the CLI,
because older configs and the app-server still carry them.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from llmx.events.ops import ReviewDecision
from llmx.runtime.config.types import ApprovalPolicy


class SandboxPermissions(enum.Enum):
    """The ``sandbox_permissions`` argument of the shell tool."""

    # Run under the turn's sandbox policy.
    USE_DEFAULT = "use_default"
    # Run outside the sandbox, after approval (kept in it when the profile denies reads).
    REQUIRE_ESCALATED = "require_escalated"
    # Run in the sandbox widened by ``additional_permissions``, after approval.
    WITH_ADDITIONAL_PERMISSIONS = "with_additional_permissions"


def approves(decision: ReviewDecision) -> bool:
    """Whether ``decision`` lets the command or patch run."""
    return decision in (ReviewDecision.APPROVED, ReviewDecision.APPROVED_FOR_SESSION)


class Skip(msgspec.Struct, frozen=True):
    """Run without asking."""

    # True when the command runs outside the sandbox (explicitly approved or escalated).
    bypass_sandbox: bool = False


class NeedsApproval(msgspec.Struct, frozen=True):
    reason: str | None = None


class Forbidden(msgspec.Struct, frozen=True):
    """Refused without asking; ``reason`` goes back to the model."""

    reason: str


Requirement = Skip | NeedsApproval | Forbidden


def escalation_guard(
    policy: ApprovalPolicy, permissions: SandboxPermissions, *, preapproved: bool
) -> str | None:
    """The refusal text for an escalation request the policy does not allow, else None."""
    if permissions is SandboxPermissions.USE_DEFAULT or preapproved:
        return None
    if policy is ApprovalPolicy.ON_REQUEST:
        return None
    name = _rust_name(policy)
    if permissions is SandboxPermissions.WITH_ADDITIONAL_PERMISSIONS:
        return (
            f"approval policy is {name}; reject command — you cannot request additional "
            "permissions unless the approval policy is OnRequest"
        )
    return (
        f"approval policy is {name}; reject command — you should not ask for escalated "
        f"permissions if the approval policy is {name}"
    )


def exec_requirement(
    policy: ApprovalPolicy,
    *,
    filesystem_restricted: bool,
    permissions: SandboxPermissions,
    known_safe: bool,
    dangerous: bool,
) -> Requirement:
    """What must happen before a shell command runs (no rule file matched it)."""
    if known_safe and policy is ApprovalPolicy.UNTRUSTED:
        return Skip()
    if dangerous:
        if policy is ApprovalPolicy.NEVER:
            if not filesystem_restricted:
                return Skip()
            return Forbidden(
                "approval required by policy, but AskForApproval is set to Never"
            )
        return NeedsApproval()
    if policy in (ApprovalPolicy.NEVER, ApprovalPolicy.ON_FAILURE):
        return Skip()
    if policy is ApprovalPolicy.UNTRUSTED:
        return NeedsApproval()
    if not filesystem_restricted:
        return Skip()
    if permissions is not SandboxPermissions.USE_DEFAULT:
        return NeedsApproval()
    return Skip()


def retry_unsandboxed_after_denial(policy: ApprovalPolicy) -> bool:
    """Whether a sandbox denial is turned into a "retry without sandbox?" prompt.

    Under ``on-request`` and ``never`` the denial goes back to the model instead, which
    can ask for escalation itself (on-request) or must do without (never).
    """
    return policy in (ApprovalPolicy.ON_FAILURE, ApprovalPolicy.UNTRUSTED)


class PatchVerdict(enum.Enum):
    """What happens to an apply_patch call before it is applied."""

    # Apply it now.
    AUTO_APPROVE = "auto_approve"
    # Ask the user first.
    ASK_USER = "ask_user"
    # Refuse; the model is told why.
    REJECT = "reject"


def patch_verdict(
    policy: ApprovalPolicy, *, all_paths_writable: bool, read_only_sandbox: bool
) -> tuple[PatchVerdict, str | None]:
    """Codex's ``assess_patch_safety`` for a non-empty patch, with the rejection text.

    ``all_paths_writable`` is about the resolved targets. Codex applies a patch inside its
    sandbox, so under ``on-failure`` an unwritable target fails there and the user is asked
    to retry without it; llmx checks the targets before writing and asks right away.
    """
    if policy is ApprovalPolicy.UNTRUSTED:
        return PatchVerdict.ASK_USER, None
    if all_paths_writable:
        return PatchVerdict.AUTO_APPROVE, None
    if policy is ApprovalPolicy.NEVER:
        if read_only_sandbox:
            reason = "writing is blocked by read-only sandbox; rejected by user approval settings"
        else:
            reason = "writing outside of the project; rejected by user approval settings"
        return PatchVerdict.REJECT, reason
    return PatchVerdict.ASK_USER, None


class ApprovalCache:
    """Session-scoped ``approved_for_session`` answers, keyed like Codex's ApprovalStore."""

    def __init__(self) -> None:
        self._approved: set[str] = set()

    @staticmethod
    def command_key(
        command: Sequence[str],
        cwd: Path,
        permissions: SandboxPermissions,
        additional: Mapping[str, Any] | None = None,
    ) -> str:
        """The key of one approval: the same command asking for other (or more)
        ``additional_permissions`` is another key, so a cached answer keeps its bounds."""
        key: dict[str, Any] = {
            "command": list(command), "cwd": str(cwd), "sandbox_permissions": permissions.value,
        }
        if additional is not None:
            key["additional_permissions"] = additional
        return json.dumps(key, sort_keys=True)

    @staticmethod
    def path_key(path: Path) -> str:
        return json.dumps({"path": str(path)})

    def covers(self, keys: Iterable[str]) -> bool:
        wanted = list(keys)
        return bool(wanted) and all(key in self._approved for key in wanted)

    def remember(self, keys: Iterable[str]) -> None:
        self._approved.update(keys)


def _rust_name(policy: ApprovalPolicy) -> str:
    # Codex prints the Rust enum variant in this message.
    return {
        ApprovalPolicy.UNTRUSTED: "UnlessTrusted",
        ApprovalPolicy.ON_FAILURE: "OnFailure",
        ApprovalPolicy.ON_REQUEST: "OnRequest",
        ApprovalPolicy.NEVER: "Never",
    }[policy]
