"""The session's sandbox: spawners for confined and escalated commands from a resolved plan."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llmx.runtime.session_types import SandboxSetup
from llmx.runtime.tools.shell import spawn_unconfined
from llmx.sandbox.plan import ConfinementPlan, NetworkAccess

_closers: set[asyncio.Task[None]] = set()


def sandbox_setup(plan: ConfinementPlan, policy_json: dict[str, Any]) -> SandboxSetup:
    async def confined(
        argv: Sequence[str], cwd: Path, env: Mapping[str, str]
    ) -> asyncio.subprocess.Process:
        # Imported here: the kernel backends are only needed once a command runs.
        from llmx.sandbox.linux.backends import UnenforceablePlan
        from llmx.sandbox.linux.prepare import prepare

        try:
            prepared = prepare(list(argv), cwd=cwd, plan=plan, env=dict(env))
        except UnenforceablePlan as exc:
            # Never run a command sandboxed-in-name-only: it fails, and says why.
            raise OSError(f"sandbox cannot be enforced: {exc}") from None
        try:
            process = await asyncio.create_subprocess_exec(
                *prepared.argv, cwd=prepared.cwd, env=prepared.env,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, start_new_session=True, close_fds=True,
                pass_fds=prepared.pass_fds, preexec_fn=prepared.preexec,
            )
        except BaseException:
            prepared.close()
            raise
        prepared.close_child_side()

        async def close_when_done() -> None:
            await process.wait()
            prepared.close()

        task = asyncio.create_task(close_when_done())
        _closers.add(task)
        task.add_done_callback(_closers.discard)
        return process

    read_only_subpaths = tuple(
        sub for root in plan.writable_roots for sub in root.read_only_subpaths
    )
    return SandboxSetup(
        policy_json=policy_json,
        confined=confined if not plan.unconfined else spawn_unconfined,
        unconfined=spawn_unconfined,
        filesystem_restricted=not plan.unconfined,
        read_only=policy_json.get("type") == "read-only",
        writable_roots=tuple(root.path for root in plan.writable_roots),
        read_only_subpaths=read_only_subpaths,
        network_enabled=plan.network is NetworkAccess.ENABLED,
    )
