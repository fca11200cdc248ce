"""Escalations keep the bounds they declare: real sessions, real sandboxed commands.

``llmx exec`` runs against the loopback model server; the model asks for
``with_additional_permissions`` (one extra writable folder) or ``require_escalated``. The
verdict is read on the host: which files the command could create, and what the
``exec_approval_request`` and ``escalation`` lines of the rollout say.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from e2e.exec_harness import ExecEnv, events, make_env, needs_sandbox, rollout_lines
from support.model_scripts import Script
from support.model_server import ModelServer

pytestmark = needs_sandbox

# /tmp and $TMPDIR are not writable roots, so the test's folders really are outside.
_WORKSPACE_WRITE = (
    "-s", "workspace-write", "-a", "on-request",
    "-c", "sandbox_workspace_write.exclude_slash_tmp=true",
    "-c", "sandbox_workspace_write.exclude_tmpdir_env_var=true",
)


def _bounded(command: str, *writable: Path, network: bool = False) -> dict[str, Any]:
    extra: dict[str, Any] = {"file_system": {"write": [str(p) for p in writable]}}
    if network:
        extra["network"] = {"enabled": True}
    return {"type": "shell", "command": command,
            "sandbox_permissions": "with_additional_permissions",
            "additional_permissions": extra, "justification": "Write the build output?"}


def _outputs(server: ModelServer) -> list[str]:
    body = server.model_requests()[-1].body
    return [item["output"] for item in body["input"] if item["type"] == "function_call_output"]


def _escalations(rollout: Path) -> list[dict[str, Any]]:
    return [line["payload"] for line in rollout_lines(rollout) if line["type"] == "escalation"]


def _run(tmp_path: Path, turns: list[list[dict[str, Any]]], *args: str,
         config_extra: str = "") -> tuple[ExecEnv, ModelServer, Path]:
    script = {"turns": [*turns, [{"type": "message", "text": "Done."}]]}
    server = ModelServer(Script.from_json(script))
    with server:
        env = make_env(tmp_path, server.base_url, config_extra=config_extra)
        live = env.run(*_WORKSPACE_WRITE, *args, "build it")
        assert live.returncode == 0, live.stderr
    [rollout] = env.rollouts()
    return env, server, rollout


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    outside, granted = tmp_path / "outside", tmp_path / "outside" / "granted"
    granted.mkdir(parents=True)
    return outside, granted


def test_an_approved_bounded_escalation_runs_with_exactly_its_bounds(
        tmp_path: Path, dirs: tuple[Path, Path]) -> None:
    outside, granted = dirs
    command = f"touch {granted}/a.txt; touch {outside}/b.txt; touch {tmp_path}/project/c.txt"
    env, server, rollout = _run(tmp_path, [[_bounded(command, granted)]],
                                "--approval-decision", "approved")
    # The declared folder became writable, the turn's own root stayed writable, and
    # nothing else did.
    assert (granted / "a.txt").exists()
    assert (env.workspace / "c.txt").exists()
    assert not (outside / "b.txt").exists(), "the escalation wrote outside its bounds"
    assert "Read-only file system" in _outputs(server)[0]
    [request] = events(rollout, "exec_approval_request")
    assert request["additional_permissions"] == {"file_system": {"entries": [
        {"path": {"type": "path", "path": str(granted)}, "access": "write"}]}}
    assert request["reason"] == "Write the build output?"
    [escalation] = _escalations(rollout)
    assert escalation["mode"] == "bounded"
    # Answered in advance (--approval-decision), and recorded so.
    assert escalation["approved_by"] == "preset"
    permissions = escalation["permissions"]
    assert permissions["type"] == "resolved_permission_profile"
    assert permissions["additional_permissions"] == request["additional_permissions"]
    entries = permissions["permission_profile"]["file_system"]["entries"]
    assert {"path": {"type": "path", "path": str(granted)}, "access": "write"} in entries
    assert permissions["permission_profile"]["network"] == "restricted"


def test_a_cached_approval_keeps_the_bounds_it_was_given(
        tmp_path: Path, dirs: tuple[Path, Path]) -> None:
    outside, granted = dirs
    command = f"touch {granted}/a.txt; touch {outside}/c.txt; true"
    turns = [[_bounded(command, granted)], [_bounded(command, granted)],
             [_bounded(command, outside)]]
    _env, server, rollout = _run(tmp_path, turns, "--approval-decision", "approved_for_session")
    assert (granted / "a.txt").exists()
    assert not (outside / "c.txt").exists(), "a cached approval widened the bounds"
    # Asked for the first call and for the wider third one; the second was covered.
    assert len(events(rollout, "exec_approval_request")) == 2
    first, second = _escalations(rollout)
    assert (first["approved_by"], second["approved_by"]) == ("preset", "session")
    assert second["mode"] == "bounded"
    assert second["permissions"] == first["permissions"]
    assert "rejected by user" in _outputs(server)[2]


def test_require_escalated_stays_sandboxed_when_reads_are_denied(tmp_path: Path) -> None:
    config = (
        'default_permissions = "dev"\n'
        "[permissions.dev]\n"
        'extends = ":workspace"\n'
        "[permissions.dev.filesystem]\n"
        '":workspace_roots" = { "." = "write", "secret.env" = "deny" }\n'
        "[sandbox_workspace_write]\n"
        "exclude_slash_tmp = true\n"
        "exclude_tmpdir_env_var = true\n"
    )
    turn = [{"type": "shell", "command": "cat secret.env",
             "sandbox_permissions": "require_escalated", "justification": "Read it?"}]
    script = {"turns": [turn, [{"type": "message", "text": "Done."}]]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url, config_extra=config)
        (env.workspace / "secret.env").write_text("TOKEN=do-not-leak\n")
        live = env.run("-a", "on-request", "--approval-decision", "approved", "read the secret")
        assert live.returncode == 0, live.stderr
        [output] = _outputs(server)
    assert "do-not-leak" not in output
    [rollout] = env.rollouts()
    # Running it unsandboxed would drop the deny-read entry: it is not even offered.
    assert events(rollout, "exec_approval_request") == []
    [escalation] = _escalations(rollout)
    assert (escalation["mode"], escalation["approved_by"]) == ("turn_default", "policy")


@pytest.mark.parametrize(
    ("call", "args", "message"),
    [
        ({"sandbox_permissions": "with_additional_permissions"}, (),
         "missing `additional_permissions`; provide at least one of `network` or `file_system` "
         "when using `with_additional_permissions`"),
        ({"sandbox_permissions": "with_additional_permissions", "additional_permissions": {}},
         (), "`additional_permissions` must include at least one requested permission in "
         "`network` or `file_system`"),
        ({"additional_permissions": {"network": {"enabled": True}}}, (),
         "`additional_permissions` requires `sandbox_permissions` set to "
         "`with_additional_permissions`"),
        ({"sandbox_permissions": "with_additional_permissions",
          "additional_permissions": {"network": {"enabled": True}}}, ("-a", "never"),
         "approval policy is Never; reject command — you cannot request additional "
         "permissions unless the approval policy is OnRequest"),
    ],
)
def test_malformed_or_disallowed_requests_are_refused_with_codex_text(
        tmp_path: Path, call: dict[str, Any], args: tuple[str, ...], message: str) -> None:
    turn = [{"type": "shell", "command": "touch never.txt", **call}]
    env, server, rollout = _run(tmp_path, [turn], *args)
    assert _outputs(server) == [message]
    assert not (env.workspace / "never.txt").exists()
    assert events(rollout, "exec_approval_request") == []
