"""The provider's web search tool, passed through as Codex 0.169 sends it: the same entry
as in Codex's recorded requests for the same model, per ``web_search`` mode, and only to
the Responses API."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from support import PROJECT_ROOT
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import within

from llmx.events.primitives import TextInput
from llmx.runtime import ThreadError, ThreadManager, ThreadOptions

KEY_ENV = "LLMX_WEB_SEARCH_TEST_KEY"
REQUESTS = PROJECT_ROOT / "tests" / "fixtures" / "codex" / "requests"


def codex_web_search(fixture: str) -> dict[str, Any]:
    body = json.loads((REQUESTS / fixture).read_text().splitlines()[0])
    body = body.get("body", body)
    [tool] = [tool for tool in body["tools"] if tool.get("type") == "web_search"]
    return dict(tool)


async def tools_sent(tmp_path: Path, model: str, extra: str, wire: str = "responses"
                     ) -> list[dict[str, Any]]:
    workspace = tmp_path / f"project-{model}-{wire}-{len(extra)}"
    workspace.mkdir()
    home = tmp_path / f"home-{model}-{wire}-{len(extra)}"
    home.mkdir()
    script = {"turns": [], "fallback": [{"type": "message", "text": "ok"}]}
    with ModelServer(Script.from_json(script)) as server:
        (home / "config.toml").write_text(
            f'model = "{model}"\nmodel_provider = "mock"\n{extra}[model_providers.mock]\n'
            f'name = "mock"\nbase_url = "{server.base_url}"\nenv_key = "{KEY_ENV}"\n'
            f'wire_api = "{wire}"\n')
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(ThreadOptions(cwd=workspace))
            await thread.submit(thread.user_turn([TextInput(text="hi")]))
            await within(thread.close(), "the thread to close")
        tools: list[dict[str, Any]] = server.model_requests()[0].body["tools"]
    return tools


def searches(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [tool for tool in tools if tool.get("type") == "web_search"]


@pytest.mark.asyncio
async def test_the_search_tool_codex_sends_for_the_same_model(tmp_path: Path) -> None:
    assert searches(await tools_sent(tmp_path, "mock-model", "")) == [
        codex_web_search("exec_ephemeral.requests.jsonl")]
    assert searches(await tools_sent(tmp_path, "gpt-5.5", "")) == [
        codex_web_search("exec_plain_gpt55.requests.jsonl")]
    live = searches(await tools_sent(tmp_path, "mock-model", 'web_search = "live"\n'))
    assert live == [{"type": "web_search", "external_web_access": True}]
    assert searches(await tools_sent(tmp_path, "mock-model", 'web_search = "disabled"\n')) == []
    chat = await tools_sent(tmp_path, "mock-model", "", wire="chat")
    assert all(tool["type"] == "function" for tool in chat)


@pytest.mark.asyncio
async def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ThreadError, match="web_search"):
        await tools_sent(tmp_path, "mock-model", 'web_search = "sometimes"\n')


@pytest.mark.asyncio
async def test_inspect_shows_the_tools_each_turn_sent(tmp_path: Path) -> None:
    import subprocess
    import sys

    from support.model_scripts import offered_tool_names

    workspace = tmp_path / "project"
    workspace.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    script = {"turns": [], "fallback": [{"type": "message", "text": "ok"}]}
    with ModelServer(Script.from_json(script)) as server:
        (home / "config.toml").write_text(
            'model = "mock-model"\nmodel_provider = "mock"\n[model_providers.mock]\n'
            f'name = "mock"\nbase_url = "{server.base_url}"\nenv_key = "{KEY_ENV}"\n')
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(ThreadOptions(cwd=workspace))
            await thread.submit(thread.user_turn([TextInput(text="hi")]))
            await within(thread.close(), "the thread to close")
        sent = [offered_tool_names(request.body) + [
            tool["type"] for tool in request.body["tools"] if tool["type"] == "web_search"]
            for request in server.model_requests()]
    path = thread.rollout_path
    assert path is not None
    report = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "llmx", "inspect", "--json", str(path)],
        capture_output=True, text=True, timeout=60, check=False)
    assert report.returncode == 0, report.stderr
    [turn] = json.loads(report.stdout)["turns"]
    assert turn["tools"] == sent[0]
    assert turn["tools"] == ["exec_command", "write_stdin", "request_user_input",
                             "view_image", "web_search"]
    import os

    text = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "llmx", "inspect", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "COLUMNS": "300"})
    assert "tools: " + ", ".join(sent[0]) in text.stdout
