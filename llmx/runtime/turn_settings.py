"""Per-turn settings: a ``user_turn`` carries the model, approval policy and sandbox of
its turn (Codex's TUI sends ``/model`` and ``/permissions`` choices so), and the thread
keeps them for the turns after it, as Codex does.

The sandbox is changed by mode (``read-only``, ``workspace-write``,
``danger-full-access``): a policy of another mode is resolved from the thread's
configuration with that mode, as the ``-s`` flag would have; the same mode keeps the
thread's resolved sandbox (its writable roots, network and deny entries).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from llmx.events.ops import UserTurn
from llmx.runtime.config_types import ApprovalPolicy
from llmx.runtime.session_types import SandboxSetup, SessionSettings
from llmx.runtime.threads.errors import ThreadError

# The sandbox of a mode, resolved for this thread (None: the thread cannot change it).
SandboxForMode = Callable[[str], SandboxSetup]


def sandbox_mode(policy: Any) -> str:
    """The mode of a Codex ``sandbox_policy`` (``{"type": ...}``)."""
    if isinstance(policy, dict):
        kind = policy.get("type")
        return kind if isinstance(kind, str) else ""
    return policy if isinstance(policy, str) else ""


def settings_for_turn(
    base: SessionSettings, op: UserTurn, sandbox_for: SandboxForMode | None
) -> tuple[SessionSettings, list[str]]:
    """The settings ``op``'s turn runs with, and why any of its settings was not taken
    (an unknown policy or mode keeps the thread's own: a turn never runs with less
    confinement than asked because of a bad value)."""
    changes: dict[str, Any] = {}
    refused: list[str] = []
    if op.model and op.model != base.model:
        changes["model"] = op.model
    if op.approval_policy and op.approval_policy != base.approval_policy.value:
        try:
            changes["approval_policy"] = ApprovalPolicy.parse(op.approval_policy,
                                                              source="user_turn")
        except ValueError as exc:
            refused.append(str(exc))
    mode = sandbox_mode(op.sandbox_policy)
    if mode and mode != sandbox_mode(base.sandbox.policy_json):
        if sandbox_for is None:
            refused.append(f"this thread cannot change its sandbox to {mode!r}")
        else:
            try:
                sandbox = sandbox_for(mode)
            except (ThreadError, ValueError) as exc:  # say why, keep the sandbox
                refused.append(f"sandbox {mode!r}: {exc}")
            else:
                changes["sandbox"] = sandbox
                changes["env"] = sandbox.plan.env
    if isinstance(op.effort, str) and op.effort != base.reasoning_effort:
        changes["reasoning_effort"] = op.effort
    if op.summary and op.summary != base.reasoning_summary:
        changes["reasoning_summary"] = op.summary
    if not changes:
        return base, refused
    return msgspec.structs.replace(base, **changes), refused
