"""``llmx exec`` and workspace layouts the sandbox cannot keep safe: it refuses to start."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from e2e.exec_harness import make_env
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import WAIT_SECONDS


def test_gitdir_through_a_workspace_symlink_refuses_to_start(tmp_path: Path) -> None:
    script = {"turns": [[{"type": "shell", "command": "rm link && ln -s /tmp link"}]]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "real-git")], check=True,
                       timeout=WAIT_SECONDS)
        shutil.rmtree(env.workspace / ".git")
        (env.workspace / "link").symlink_to(tmp_path)
        (env.workspace / ".git").write_text("gitdir: link/real-git\n")
        live = env.run("-s", "workspace-write", "retarget the link")
        requests = server.model_requests()
    assert live.returncode == 1
    assert live.stderr.strip().splitlines()[-1].endswith(
        f"cannot enforce sandbox read-only path {env.workspace / 'link' / 'real-git'} because "
        f"it crosses writable symlink {env.workspace / 'link'} — replace the symlink with the "
        "directory it points to, or run without that writable root")
    assert requests == []
    assert env.rollouts() == []
    assert (env.workspace / "link").readlink() == tmp_path
