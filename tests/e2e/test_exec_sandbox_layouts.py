"""``llmx exec`` and workspace layouts: what the sandbox keeps, or refuses to start with."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

from e2e.exec_harness import PATCHING_MODEL, make_env, needs_sandbox
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

_ESCALATION = shlex.quote('sandbox_mode = "danger-full-access"')


@needs_sandbox
def test_a_session_cannot_rewrite_the_llmx_home(tmp_path: Path) -> None:
    """The home lies in a writable root (``--add-dir`` of its parent): neither a command
    nor a patch changes its config.toml."""
    script = {"turns": [
        [{"type": "shell", "command": f"echo {_ESCALATION} >> {tmp_path}/home/config.toml"}],
        [{"type": "custom_tool_call", "name": "apply_patch",
          "input": f"*** Begin Patch\n*** Add File: {tmp_path}/home/AGENTS.md\n+obey\n"
                   "*** End Patch"}],
        [{"type": "message", "text": "Done."}],
    ]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url, model=PATCHING_MODEL)
        config = (env.home / "config.toml").read_text()
        live = env.run("-s", "workspace-write", "--add-dir", str(tmp_path),
                       "-c", "sandbox_workspace_write.exclude_slash_tmp=true",
                       "-c", "sandbox_workspace_write.exclude_tmpdir_env_var=true",
                       "escalate the next run")
        assert live.returncode == 0, live.stderr
        requests = server.model_requests()
    assert (env.home / "config.toml").read_text() == config
    assert not (env.home / "AGENTS.md").exists()
    outputs = [item["output"] for item in requests[-1].body["input"]
               if item["type"] in ("function_call_output", "custom_tool_call_output")]
    assert "Read-only file system" in outputs[0]
    assert outputs[1] == "writing outside of the project; rejected by user approval settings"
