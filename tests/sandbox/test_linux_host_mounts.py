"""A mount that goes away on the host while a command is being set up (another program
unmounts it between the parent's reading of the mount table and the child's copy of it)
must not fail the set-up: what it covered belongs to a mount remounted read-only too."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest
from support.linux_sandbox import BASE_ENV, protected, workspace_plan
from support.waits import WAIT_SECONDS, within

from llmx.sandbox.linux import spawn as confined_spawn
from llmx.sandbox.linux.backends import BackendKind, backend_status
from llmx.sandbox.linux.prepare import prepare

ROUTES = [pytest.param(True, id="spawn-server"), pytest.param(False, id="forked")]


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True,
                          timeout=WAIT_SECONDS, check=False)
    if done.returncode != 0:
        pytest.skip(f"mount {' '.join(args)}: {done.stderr.strip()}")


@pytest.mark.parametrize("through_server", ROUTES)
def test_a_mount_gone_before_the_child_copies_the_table(through_server: bool,
                                                        tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting on the host needs root")
    status = backend_status(BackendKind.NAMESPACES)
    if not status.available:
        pytest.skip(f"namespaces unavailable: {status.reason}")
    ws, gone = tmp_path / "ws", tmp_path / "gone"
    ws.mkdir()
    gone.mkdir()
    _mount("--bind", str(gone), str(gone))

    async def run() -> tuple[int, bytes]:
        if through_server:
            assert await within(confined_spawn.warm_up(), "the spawn server")
        prepared = prepare(["sh", "-c", f"echo ran; touch {gone}/x"], cwd=ws,
                           plan=workspace_plan(protected(ws)), env=BASE_ENV,
                           backend=BackendKind.NAMESPACES, report_status=True)
        umount = await asyncio.create_subprocess_exec("umount", str(gone))
        assert await within(umount.wait(), "umount") == 0  # bounded by within
        if through_server:
            conn = confined_spawn.spawn_client.connection()
            process = await confined_spawn._start_via_server(conn, prepared, None)
        else:
            process = await confined_spawn._start_forked(prepared, None)
        out = await within(process.stdout.read(), "the command's output")
        code = await within(process.wait(), "the command")  # bounded by within
        assert process.setup_error is None, process.setup_error
        return code, out

    try:
        code, out = asyncio.run(run())
    finally:
        subprocess.run(["umount", str(gone)], capture_output=True, check=False,
                       timeout=WAIT_SECONDS)
    assert out == b"ran\n"
    assert code != 0  # gone/ lies outside the writable roots: still read-only
    assert not (gone / "x").exists()
