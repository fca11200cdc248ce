"""apply_patch cannot write through symlinks a sandboxed command planted.

Each test runs ``llmx exec`` for real against the loopback model server: a first tool
call runs a sandboxed shell command that plants symbolic links in the workspace
(``link -> <outside>``, ``gitlink -> .git``), a later call sends a patch through them.
Verdicts are read on the host: the files outside and ``.git/config``.
"""

from __future__ import annotations

from pathlib import Path

from e2e.exec_harness import (
    PATCHING_MODEL,
    ExecEnv,
    completed_items,
    events,
    make_env,
    needs_sandbox,
)
from support.model_scripts import Script
from support.model_server import ModelServer

pytestmark = needs_sandbox

# /tmp and $TMPDIR are not writable roots, so the test's "outside" really is outside.
_WORKSPACE_WRITE = (
    "-s", "workspace-write",
    "-c", "sandbox_workspace_write.exclude_slash_tmp=true",
    "-c", "sandbox_workspace_write.exclude_tmpdir_env_var=true",
)

_THROUGH_LINKS = (
    "*** Begin Patch\n"
    "*** Add File: link/pwned.txt\n+pwned\n"
    "*** Add File: gitlink/config\n+[core]\n+\tfsmonitor = touch /tmp/owned\n"
    "*** End Patch"
)


def _script(outside: Path, patch: str) -> dict[str, object]:
    return {"turns": [
        [{"type": "shell", "command": f"ln -s {outside} link && ln -s .git gitlink && ls -l"}],
        [{"type": "custom_tool_call", "name": "apply_patch", "input": patch}],
        [{"type": "message", "text": "Done."}],
    ]}


def _run(tmp_path: Path, patch: str, *args: str) -> tuple[ExecEnv, Path, list[str]]:
    outside = tmp_path / "outside"
    outside.mkdir()
    with ModelServer(Script.from_json(_script(outside, patch))) as server:
        env = make_env(tmp_path, server.base_url, model=PATCHING_MODEL)
        git_config = (env.workspace / ".git" / "config").read_bytes()
        live = env.run(*_WORKSPACE_WRITE, *args, "patch through the links")
        assert live.returncode == 0, live.stderr
        requests = server.model_requests()
    # The links were planted by the sandboxed command (the sandbox let it: in-workspace).
    assert (env.workspace / "link").is_symlink()
    assert (env.workspace / "gitlink").is_symlink()
    assert (env.workspace / ".git" / "config").read_bytes() == git_config, \
        ".git/config was rewritten through the planted gitlink"
    outputs = [item["output"] for item in requests[-1].body["input"]
               if item["type"] == "custom_tool_call_output"]
    return env, outside, outputs


def test_patch_through_planted_links_is_rejected_under_never(tmp_path: Path) -> None:
    env, outside, outputs = _run(tmp_path, _THROUGH_LINKS)
    assert not (outside / "pwned.txt").exists(), "the patch wrote outside the workspace"
    assert outputs == ["writing outside of the project; rejected by user approval settings"]
    [rollout] = env.rollouts()
    # Refused without asking (the policy is never): nothing written, the refusal on record.
    [change] = completed_items(rollout, "FileChange")
    assert (change["status"], change["stderr"]) == ("declined", outputs[0])


def test_approval_request_shows_the_resolved_targets(tmp_path: Path) -> None:
    env, outside, outputs = _run(tmp_path, _THROUGH_LINKS, "-a", "on-request")
    assert not (outside / "pwned.txt").exists()
    assert outputs == ["patch rejected by user"]
    [rollout] = env.rollouts()
    [request] = events(rollout, "apply_patch_approval_request")
    ws = env.workspace
    # What a person is asked about is where the bytes would land, not the names in the patch.
    assert sorted(request["changes"]) == sorted([str(outside / "pwned.txt"),
                                                 str(ws / ".git" / "config")])
    reason = request["reason"]
    assert f"{outside / 'pwned.txt'} (outside the writable roots; via {ws / 'link'})" in reason
    assert f"{ws / '.git' / 'config'} (protected .git; via {ws / 'gitlink'})" in reason


def test_approved_patch_writes_exactly_the_shown_targets(tmp_path: Path) -> None:
    patch = "*** Begin Patch\n*** Add File: link/approved.txt\n+yes\n*** End Patch"
    env, outside, outputs = _run(tmp_path, patch, "-a", "on-request",
                                 "--approval-decision", "approved")
    assert (outside / "approved.txt").read_text() == "yes\n"
    assert outputs[0].startswith("Exit code: 0\n"), outputs
    [rollout] = env.rollouts()
    [change] = completed_items(rollout, "FileChange")
    assert list(change["changes"]) == [str(outside / "approved.txt")]


def test_links_inside_the_workspace_still_patch_without_asking(tmp_path: Path) -> None:
    script = {"turns": [
        [{"type": "shell", "command": "mkdir -p src/real && ln -s src/real alias"}],
        [{"type": "custom_tool_call", "name": "apply_patch",
          "input": "*** Begin Patch\n*** Add File: alias/new.txt\n+ok\n*** End Patch"}],
        [{"type": "message", "text": "Done."}],
    ]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url, model=PATCHING_MODEL)
        live = env.run(*_WORKSPACE_WRITE, "patch through an inner link")
        assert live.returncode == 0, live.stderr
    assert (env.workspace / "src" / "real" / "new.txt").read_text() == "ok\n"
    [rollout] = env.rollouts()
    assert events(rollout, "apply_patch_approval_request") == []

