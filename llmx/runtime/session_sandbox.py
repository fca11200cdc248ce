"""The session's sandbox: spawners for confined and escalated commands from a resolved plan."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llmx.runtime.session_types import SandboxSetup
from llmx.runtime.tools.shell import RunningCommand, Spawner, spawn_unconfined
from llmx.sandbox.additional_permissions import bounded_sandbox, denies_reads
from llmx.sandbox.plan import ConfinementPlan, NetworkAccess
from llmx.sandbox.resolve import ResolvedSandbox


def confined_spawner(plan: ConfinementPlan) -> Spawner:
    """Starts commands confined by ``plan`` (the plain spawner when it confines nothing)."""
    if plan.unconfined:
        return spawn_unconfined

    async def confined(argv: Sequence[str], cwd: Path, env: Mapping[str, str], *,
                       stdin_fd: int | None = None) -> RunningCommand:
        # Imported here: the kernel backends are only needed once a command runs.
        from llmx.sandbox.linux.backends import UnenforceablePlan
        from llmx.sandbox.linux.spawn import start_confined

        try:
            return await start_confined(list(argv), cwd=cwd, plan=plan, env=dict(env),
                                        stdin_fd=stdin_fd)
        except UnenforceablePlan as exc:
            # Never run a command sandboxed-in-name-only: it fails, and says why.
            raise OSError(f"sandbox cannot be enforced: {exc}") from None

    return confined


def sandbox_setup(
    plan: ConfinementPlan, policy_json: dict[str, Any], *, resolved: ResolvedSandbox | None = None
) -> SandboxSetup:
    """The tools' view of ``plan``; with ``resolved`` (what ``plan`` came from), commands
    may also ask for bounded additional permissions."""
    return SandboxSetup(
        policy_json=policy_json,
        confined=confined_spawner(plan),
        unconfined=spawn_unconfined,
        filesystem_restricted=not plan.unconfined,
        read_only=policy_json.get("type") == "read-only",
        writable_roots=tuple(root.path for root in plan.writable_roots),
        plan=plan,
        network_enabled=plan.network is NetworkAccess.ENABLED,
        spawner_for=confined_spawner,
        widen=None if resolved is None else functools.partial(bounded_sandbox, resolved),
        denies_reads=denies_reads(resolved) if resolved is not None else bool(plan.denied_paths),
    )
