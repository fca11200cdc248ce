"""An MCP tool's approval through ``llmx app-server``: asked as Codex asks it
(``mcpServer/elicitation/request``, a form with no fields), answered with ``action``,
recorded with the client as the one who decided."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.app_server_client import AppServer, drive_turn, make_home
from support.model_server import scripted
from support.waits import WAIT_SECONDS

from mcp_tests.mcp_harness import stdio_table

KEY = {"LLMX_TEST_MODEL_KEY": "k"}


@pytest.mark.parametrize(("action", "status"), [("accept", "completed"), ("decline", "failed")])
def test_an_mcp_approval_is_an_elicitation_request(
    tmp_path: Path, action: str, status: str
) -> None:
    script = {"turns": [
        [{"type": "function_call", "name": "add", "namespace": "mcp__calc",
          "arguments": {"a": 20, "b": 22}}],
        [{"type": "message", "text": "Done."}],
    ]}
    asked: list[tuple[str, dict[str, Any]]] = []

    def decide(method: str, params: dict[str, Any]) -> dict[str, Any]:
        asked.append((method, params))
        return {"action": action, "content": None}

    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url, stdio_table(
            required=True, default_tools_approval_mode="prompt"))
        work = tmp_path / "project"
        work.mkdir()
        subprocess.run(["git", "init", "-q", str(work)], check=True, timeout=WAIT_SECONDS)
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            thread_id = server.start_thread(approvalPolicy="on-request",
                                            sandbox="workspace-write")
            seen = drive_turn(server, thread_id, "add 20 and 22", decide)
    [(method, params)] = asked
    assert method == "mcpServer/elicitation/request"
    assert params["serverName"] == "calc"
    assert params["mode"] == "form"
    assert params["_meta"]["codex_approval_kind"] == "mcp_tool_call"
    assert params["message"] == 'Allow the calc MCP server to run tool "add"?'
    assert any(m.get("method") == "serverRequest/resolved" for m in seen)
    [path] = (home / "sessions").rglob(f"rollout-*-{thread_id}.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    [decision] = [line["payload"] for line in lines if line["type"] == "submission"
                  and line["payload"]["op"]["type"] == "resolve_elicitation"]
    assert decision["op"]["decision"] == action
    assert decision["decided_by"] == "client"
    [call] = [line["payload"]["item"] for line in lines if line["type"] == "event_msg"
              and line["payload"]["type"] == "item_completed"
              and line["payload"]["item"]["type"] == "McpToolCall"]
    assert call["status"] == status
