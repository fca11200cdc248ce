"""The session's sandbox: spawners for confined and escalated commands from a resolved plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llmx.runtime.session_types import SandboxSetup
from llmx.runtime.tools.shell import RunningCommand, spawn_unconfined
from llmx.sandbox.plan import ConfinementPlan, NetworkAccess


def sandbox_setup(plan: ConfinementPlan, policy_json: dict[str, Any]) -> SandboxSetup:
    async def confined(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> RunningCommand:
        # Imported here: the kernel backends are only needed once a command runs.
        from llmx.sandbox.linux.backends import UnenforceablePlan
        from llmx.sandbox.linux.spawn import start_confined

        try:
            return await start_confined(list(argv), cwd=cwd, plan=plan, env=dict(env))
        except UnenforceablePlan as exc:
            # Never run a command sandboxed-in-name-only: it fails, and says why.
            raise OSError(f"sandbox cannot be enforced: {exc}") from None

    return SandboxSetup(
        policy_json=policy_json,
        confined=confined if not plan.unconfined else spawn_unconfined,
        unconfined=spawn_unconfined,
        filesystem_restricted=not plan.unconfined,
        read_only=policy_json.get("type") == "read-only",
        writable_roots=tuple(root.path for root in plan.writable_roots),
        plan=plan,
        network_enabled=plan.network is NetworkAccess.ENABLED,
    )
