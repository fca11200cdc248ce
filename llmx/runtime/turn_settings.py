"""Per-turn settings: a ``user_turn`` carries the cwd, model, approval policy and sandbox
of its turn (Codex's TUI sends ``/model`` and ``/permissions`` choices so, its app-server
a ``turn/start``'s own), and the thread keeps them for the turns after it, as Codex does.

The sandbox is changed by mode (``read-only``, ``workspace-write``,
``danger-full-access``): a policy of another mode is resolved from the thread's
configuration with that mode, as the ``-s`` flag would have; the same mode keeps the
thread's resolved sandbox (its writable roots, network and deny entries). Another cwd
resolves the sandbox again for that folder, as a thread started there would have it: the
workspace a ``workspace-write`` sandbox lets the turn write is the turn's cwd.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from msgspec import UNSET

from llmx.events.ops import UserTurn
from llmx.runtime.collaboration import requested_mode
from llmx.runtime.config.types import ApprovalPolicy
from llmx.runtime.session_types import SandboxSetup, SessionSettings
from llmx.runtime.threads.errors import ThreadError

# The sandbox of a mode in a cwd, resolved for this thread (None: the thread cannot
# change it).
SandboxForMode = Callable[[str, Path], SandboxSetup]


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
    cwd = base.cwd
    if op.cwd and Path(op.cwd) != base.cwd:
        if not Path(op.cwd).is_dir():
            refused.append(f"cwd {op.cwd}: no such directory")
        elif sandbox_for is None:
            refused.append(f"this thread cannot change its cwd to {op.cwd}")
        else:
            cwd = Path(op.cwd)
    current = sandbox_mode(base.sandbox.policy_json)
    mode = sandbox_mode(op.sandbox_policy) or current
    if sandbox_for is not None and (mode != current or cwd != base.cwd):
        try:
            sandbox = sandbox_for(mode, cwd)
        except (ThreadError, ValueError) as exc:  # say why, keep the sandbox and cwd
            refused.append(f"sandbox {mode!r} in {cwd}: {exc}")
        else:
            changes["sandbox"] = sandbox
            changes["env"] = sandbox.plan.env
            if cwd != base.cwd:
                changes["cwd"] = cwd
    elif mode != current:
        refused.append(f"this thread cannot change its sandbox to {mode!r}")
    if isinstance(op.effort, str) and op.effort != base.reasoning_effort:
        changes["reasoning_effort"] = op.effort
    if op.collaboration_mode is not UNSET and op.collaboration_mode is not None:
        try:
            requested = requested_mode(op.collaboration_mode)
        except ValueError as exc:
            refused.append(str(exc))
        else:
            changes["collaboration"] = requested.mode
            # A mode's own model and effort come before the turn's (Codex's precedence).
            if requested.model is not None:
                changes["model"] = requested.model
            if requested.effort is not None:
                changes["reasoning_effort"] = requested.effort
    if op.summary and op.summary != base.reasoning_summary:
        changes["reasoning_summary"] = op.summary
    if not changes:
        return base, refused
    return msgspec.structs.replace(base, **changes), refused
