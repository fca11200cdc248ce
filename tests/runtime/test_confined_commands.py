"""The runtime's confined commands: the session's spawner, on both spawn routes.

The own backend starts a session's commands through the spawn server once it is up and
forks them from the session before that; the runtime must see the same results either
way, including a sandbox that cannot be entered.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from support.linux_sandbox import BASE_ENV, workspace_plan
from support.waits import within

from llmx.runtime.session_sandbox import sandbox_setup
from llmx.runtime.tools.shell import RunningCommand, run_command
from llmx.sandbox.linux import spawn as confined_spawn
from llmx.sandbox.linux.backends import BackendKind, backend_status
from llmx.sandbox.linux.prepare import prepare
from llmx.sandbox.plan import WritableRoot

pytestmark = pytest.mark.skipif(
    not backend_status(BackendKind.NAMESPACES).available,
    reason=f"own sandbox backend unavailable: {backend_status(BackendKind.NAMESPACES).reason}")

ROUTES = [pytest.param(True, id="spawn-server"), pytest.param(False, id="forked")]


async def _route(through_server: bool) -> None:
    if through_server:
        assert await within(confined_spawn.warm_up(), "the spawn server"), \
            "the spawn server could not start"


@pytest.mark.parametrize("through_server", ROUTES)
def test_session_spawner_runs_confined(through_server: bool, tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    plan = workspace_plan(WritableRoot(tmp_path, (tmp_path / ".git", tmp_path / ".codex")))
    setup = sandbox_setup(plan, {"type": "workspace-write"})
    script = "echo out; echo err >&2; touch made; touch .git/x || exit 7"

    async def run() -> tuple[int, str, str]:
        await _route(through_server)
        result = await run_command(["sh", "-c", script], cwd=tmp_path, env=BASE_ENV,
                                   spawner=setup.confined)
        return result.exit_code, result.stdout, result.stderr

    code, out, err = asyncio.run(within(run(), "the confined command"))
    assert code == 7
    assert out == "out\n"
    assert err.startswith("err\n")
    assert "Read-only file system" in err
    assert (tmp_path / "made").exists()
    assert not (tmp_path / ".git" / "x").exists()


@pytest.mark.parametrize("through_server", ROUTES)
def test_sandbox_setup_failure_reaches_the_command_output(through_server: bool,
                                                          tmp_path: Path) -> None:
    # A protected directory that disappears between planning and spawning makes the
    # sandbox's bind mount fail: the command never runs, and the runner says why.
    (tmp_path / ".git").mkdir()
    plan = workspace_plan(WritableRoot(tmp_path, (tmp_path / ".git",)))

    async def spawner(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> RunningCommand:
        prepared = prepare(list(argv), cwd=cwd, plan=plan, env=dict(env),
                           backend=BackendKind.NAMESPACES, report_status=True)
        (tmp_path / ".git").rmdir()
        if through_server:
            conn = confined_spawn.spawn_client.connection()
            return await confined_spawn._start_via_server(conn, prepared, None)
        return await confined_spawn._start_forked(prepared, None)

    async def run() -> tuple[int, str]:
        await _route(through_server)
        result = await run_command(["sh", "-c", "touch ran"], cwd=tmp_path, env=BASE_ENV,
                                   spawner=spawner)
        return result.exit_code, result.stderr

    code, err = asyncio.run(within(run(), "the confined command"))
    assert code == 126
    assert err.startswith("llmx: could not enter the sandbox (mounts:"), err
    assert not (tmp_path / "ran").exists()
    assert os.listdir(tmp_path) == []
