"""``llmx mcp-server`` driven by the MCP SDK's own client over stdio: a thread started
with ``llmx`` and continued with ``llmx-reply``, its progress as notifications, an
approval asked as an elicitation; then the same rollout resumed by ``llmx exec resume``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from e2e.exec_harness import make_env
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types import ElicitResult
from support import expected_install_hint
from support.model_scripts import Script
from support.model_server import ModelServer

from mcp_tests.mcp_harness import stdio_table


async def _drive(params: StdioServerParameters, cwd: Path, mode: str) -> dict[str, Any]:
    asked: list[str] = []
    progress: list[str] = []

    async def elicit(context: Any, request: Any) -> ElicitResult:
        asked.append(request.message)
        return ElicitResult(action="accept", content={})

    async def on_progress(step: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async with Client(stdio_client(params), elicitation_callback=elicit,
                      mode=mode) as client:  # type: ignore[arg-type]
        protocol = client.protocol_version
        names = [tool.name for tool in (await client.list_tools()).tools]
        first = await client.call_tool("llmx", {
            "prompt": "add 2 and 3", "cwd": str(cwd), "sandbox": "workspace-write",
            "approval_policy": "on-request",
        }, progress_callback=on_progress)
        thread_id = first.structured_content["threadId"]
        second = await client.call_tool("llmx-reply", {"threadId": thread_id,
                                                       "prompt": "and again?"})
    return {"protocol": protocol, "names": names, "first": first, "second": second, "asked": asked,
            "progress": progress, "thread_id": thread_id}


# "auto": the newest protocol (2026-07-28), where the approval question is the call's
# input_required result and the client's next call answers it; "legacy": the
# initialize handshake (as Codex's client speaks it), where the server asks mid-call.
@pytest.mark.parametrize(("mode", "protocol"), [("auto", "2026-07-28"), ("legacy", "2025-11-25")])
def test_the_sdk_client_drives_a_two_step_thread(tmp_path: Path, mode: str, protocol: str) -> None:
    script = Script.from_json({"turns": [
        [{"type": "function_call", "name": "add", "namespace": "mcp__calc",
          "arguments": {"a": 2, "b": 3}}],
        [{"type": "message", "text": "It is 5."}],
        [{"type": "message", "text": "Still 5."}],
        [{"type": "message", "text": "Resumed."}],
    ]})
    with ModelServer(script) as server:
        env = make_env(tmp_path, server.base_url, config_extra=stdio_table(
            required=True, default_tools_approval_mode="prompt"))
        params = StdioServerParameters(command=sys.executable, args=["-m", "llmx", "mcp-server"],
                                       env=env.env(), cwd=env.workspace)
        seen = asyncio.run(_drive(params, env.workspace, mode))
        assert seen["protocol"] == protocol
        assert seen["names"] == ["llmx", "llmx-reply"]
        first, second = seen["first"], seen["second"]
        assert not first.is_error, first.content
        assert first.structured_content["content"] == "It is 5."
        assert first.content[0].text == "It is 5."
        assert second.structured_content == {"threadId": seen["thread_id"],
                                             "content": "Still 5."}
        # The calc tool's approval went to the client as an elicitation.
        assert seen["asked"] == ['Allow the calc MCP server to run tool "add"?']
        assert "mcp: calc/add (completed)" in seen["progress"]
        assert "agent: It is 5." in seen["progress"]
        # An ordinary rollout: exec resumes it.
        resumed = env.run("resume", seen["thread_id"], "one more")
        assert resumed.returncode == 0, resumed.stderr
        assert "Resumed." in resumed.stdout
    [rollout] = env.rollouts()
    lines = [json.loads(line) for line in rollout.read_text().splitlines()]
    assert lines[0]["payload"]["source"] == "mcp"
    assert lines[0]["payload"]["originator"] == "llmx_mcp_server"
    prompts = [line["payload"]["item"]["content"][0]["text"] for line in lines
               if line["type"] == "event_msg" and line["payload"]["type"] == "item_completed"
               and line["payload"]["item"]["type"] == "UserMessage"]
    assert prompts == ["add 2 and 3", "and again?", "one more"]
    [decision] = [line["payload"] for line in lines if line["type"] == "submission"
                  and line["payload"]["op"]["type"] == "resolve_elicitation"]
    assert decision["decided_by"] == "client"
    assert decision["op"]["decision"] == "accept"


def test_without_the_sdk_installed_the_command_says_what_to_install(tmp_path: Path) -> None:
    # A fresh interpreter where importing the SDK fails, as when the extra is missing.
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "mcp").mkdir()
    (blocker / "mcp" / "__init__.py").write_text("raise ImportError('no mcp here')\n")
    env = {**os.environ, "PYTHONPATH": str(blocker)}
    result = subprocess.run([sys.executable, "-m", "llmx", "mcp-server"], capture_output=True,
                            text=True, env=env, timeout=60, stdin=subprocess.DEVNULL,
                            check=False)
    assert result.returncode == 1
    # Not "pip install 'llmx[mcp]'": the package index has another project of that name.
    assert result.stderr == ("llmx mcp-server: the MCP SDK is not installed — "
                             f"{expected_install_hint('mcp')}\n")


def test_a_form_of_the_threads_own_server_is_declined_not_passed_on(tmp_path: Path) -> None:
    script = Script.from_json({"turns": [
        [{"type": "function_call", "name": "signup", "namespace": "mcp__calc",
          "arguments": {}}],
        [{"type": "message", "text": "Declined."}],
    ]})
    asked: list[str] = []

    async def drive(params: StdioServerParameters, cwd: Path) -> Any:
        async def elicit(context: Any, request: Any) -> ElicitResult:
            asked.append(request.message)
            return ElicitResult(action="accept", content={})

        async with Client(stdio_client(params), elicitation_callback=elicit,
                          mode="legacy") as client:  # type: ignore[arg-type]
            return await client.call_tool("llmx", {"prompt": "sign me up", "cwd": str(cwd)})

    with ModelServer(script) as server:
        env = make_env(tmp_path, server.base_url, config_extra=stdio_table(
            required=True, default_tools_approval_mode="approve"))
        params = StdioServerParameters(command=sys.executable, args=["-m", "llmx", "mcp-server"],
                                       env=env.env(), cwd=env.workspace)
        result = asyncio.run(drive(params, env.workspace))
        sent = server.model_requests()[-1].body["input"]
    assert not result.is_error, result.content
    assert asked == []
    outputs = [str(item["output"]) for item in sent if item.get("type") == "function_call_output"]
    assert any("answer: decline" in output for output in outputs), outputs
    [rollout] = env.rollouts()
    [answer] = [json.loads(line)["payload"] for line in rollout.read_text().splitlines()
                if json.loads(line)["type"] == "submission"
                and json.loads(line)["payload"]["op"]["type"] == "resolve_elicitation"]
    assert (answer["op"]["decision"], answer["decided_by"]) == ("decline", "unattended")
