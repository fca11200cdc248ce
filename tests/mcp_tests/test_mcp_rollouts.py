"""MCP calls in rollouts, both ways: Codex 0.169's MCP rollouts replay and inspect in
llmx with the calls shown (``--json`` as Codex printed them live), and a rollout llmx
wrote with MCP calls and an MCP approval loads in Codex 0.169 (``codex exec resume``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from e2e.exec_harness import make_env
from interop.codex_cli import CODEX, needs_codex
from support import CODEX_RICH_FIXTURES
from support.model_scripts import Script
from support.model_server import ModelServer, scripted
from support.waits import WAIT_SECONDS

from mcp_tests.mcp_harness import stdio_table

ROLLOUTS = CODEX_RICH_FIXTURES / "rollouts"
EXEC_JSON = CODEX_RICH_FIXTURES / "exec-json"


def _llmx(*args: str, cwd: Path | None = None,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llmx", *args], capture_output=True,
                          text=True, timeout=WAIT_SECONDS, check=False, cwd=cwd, env=env)


def _mcp_items(jsonl: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for line in jsonl.splitlines():
        event = json.loads(line)
        item = event.get("item") or {}
        if item.get("type") == "mcp_tool_call":
            found.append((event["type"], {k: v for k, v in item.items() if k != "id"}))
    return found


@pytest.mark.parametrize("scenario", ["mcp_add_preapproved_json", "mcp_add_policy_never_json"])
def test_codex_mcp_rollouts_replay_as_codex_printed_them(scenario: str) -> None:
    rollout = ROLLOUTS / f"{scenario}.rollout.jsonl"
    replayed = _llmx("replay", "--json", str(rollout))
    assert replayed.returncode == 0, replayed.stderr
    codex_live = (EXEC_JSON / f"{scenario}.jsonl").read_text()
    assert _mcp_items(replayed.stdout) == _mcp_items(codex_live)
    assert len(_mcp_items(replayed.stdout)) == 2


@pytest.mark.parametrize(("scenario", "status", "shown"), [
    ("mcp_add_preapproved_json", "completed", None),
    ("mcp_add_policy_never_json", "failed",
     "MCP tool call requires approval, but approval policy is never"),
    ("mcp_add_prompt_decline", "failed", "user rejected MCP tool call"),
])
def test_codex_mcp_rollouts_replay_and_inspect_with_the_calls(
    scenario: str, status: str, shown: str | None
) -> None:
    rollout = ROLLOUTS / f"{scenario}.rollout.jsonl"
    replayed = _llmx("replay", "--color", "never", str(rollout))
    assert replayed.returncode == 0, replayed.stderr
    assert f"mcp: calc/add ({status})" in replayed.stderr
    inspected = _llmx("inspect", "--json", str(rollout))
    assert inspected.returncode == 0, inspected.stderr
    [turn] = json.loads(inspected.stdout)["turns"]
    [call] = turn["mcp_calls"]
    assert (call["server"], call["tool"], call["status"]) == ("calc", "add", status)
    assert call["error"] == shown


def test_an_llmx_mcp_approval_is_inspected_as_recorded(tmp_path: Path) -> None:
    script = Script.from_json({"turns": [
        [{"type": "function_call", "name": "add", "namespace": "mcp__calc",
          "arguments": {"a": 2, "b": 3}}],
        [{"type": "message", "text": "Done."}],
    ]})
    with ModelServer(script) as server:
        env = make_env(tmp_path, server.base_url, config_extra=stdio_table(
            required=True, default_tools_approval_mode="prompt"))
        live = env.run("-a", "on-request", "-s", "workspace-write", "add 2 and 3")
        assert live.returncode == 0, live.stderr
    [rollout] = env.rollouts()
    inspected = _llmx("inspect", "--json", str(rollout), env=env.env())
    assert inspected.returncode == 0, inspected.stderr
    [turn] = json.loads(inspected.stdout)["turns"]
    [approval] = turn["approvals"]
    assert (approval["kind"], approval["subject"], approval["decision"]) == (
        "mcp", "calc.add", "denied")
    assert approval["provenance"] == "recorded"


@needs_codex
def test_codex_resumes_an_llmx_session_with_mcp_calls(tmp_path: Path) -> None:
    assert CODEX is not None
    script = Script.from_json({"turns": [
        [{"type": "function_call", "name": "add", "namespace": "mcp__calc",
          "arguments": {"a": 2, "b": 3}}],
        [{"type": "function_call", "name": "fail", "namespace": "mcp__calc",
          "arguments": {"reason": "x"}}],
        [{"type": "message", "text": "5, and fail failed."}],
    ]})
    with ModelServer(script) as server:
        env = make_env(tmp_path, server.base_url, config_extra=stdio_table(
            required=True, default_tools_approval_mode="approve"))
        live = env.run("add 2 and 3, then fail")
        assert live.returncode == 0, live.stderr
    [rollout] = env.rollouts()
    thread_id = json.loads(rollout.read_text().splitlines()[0])["payload"]["id"]
    before = len(rollout.read_text().splitlines())
    with scripted({"turns": [[{"type": "message", "text": "still here"}]]}) as model:
        (env.home / "config.toml").write_text(
            'model = "mock-model"\nmodel_provider = "mock"\n[model_providers.mock]\n'
            f'name = "mock"\nbase_url = "{model.base_url}"\n'
            'wire_api = "responses"\nenv_key = "MOCK_API_KEY"\n')
        result = subprocess.run(
            [CODEX, "exec", "resume", thread_id, "are you there"], cwd=env.workspace,
            env={**os.environ, "CODEX_HOME": str(env.home), "MOCK_API_KEY": "test"},
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith("still here")
        sent = model.model_requests()[-1].body["input"]
    # Codex sent the recorded MCP calls and their outputs back to the model.
    calls = [item for item in sent if item.get("type") == "function_call"]
    assert [(c["name"], c.get("namespace")) for c in calls] == [
        ("add", "mcp__calc"), ("fail", "mcp__calc")]
    outputs = [item for item in sent if item.get("type") == "function_call_output"]
    assert any('{"result":5}' in str(o["output"]) for o in outputs)
    assert len(rollout.read_text().splitlines()) > before
    assert _llmx("rollout", "check", str(rollout)).returncode == 0
