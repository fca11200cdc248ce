"""The tools each model is offered, compared with what Codex 0.169 offered the same model
(``fixtures/codex-models``): the request the loopback server received from llmx against
the one Codex sent, tool by tool, for catalog models, prefixes of them and unknown models.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from support.app_server_schema import FIXTURES
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import within

from llmx.events.primitives import TextInput
from llmx.runtime import ThreadError, ThreadManager, ThreadOptions
from llmx.runtime.model_families import BUNDLED, FALLBACK, model_family

KEY_ENV = "LLMX_TOOLS_TEST_KEY"
MODELS = FIXTURES / "codex-models"
RECORDED = json.loads((MODELS / "first_request_tools.json").read_text())["models"]
# Codex's tools llmx does not have: its goal tools, tool search and sub-agents.
NOT_IN_LLMX = {"get_goal", "create_goal", "update_goal", "tool_search", "multi_agent_v1"}
# llmx's exec_command also offers bounded escalation (``with_additional_permissions``),
# which Codex offers only behind a feature flag; the other tools are Codex's, byte for byte.
OWN_SCHEMA = {"exec_command"}


def name(tool: dict[str, Any]) -> str:
    return str(tool.get("name") or tool["type"])


def codex_tools(model: str) -> list[dict[str, Any]] | None:
    tools = RECORDED[model]["tools"]
    if isinstance(tools, dict):
        return codex_tools(tools["same_as"])
    return tools


async def first_request(tmp_path: Path, model: str, script: dict[str, Any] | None = None,
                        extra: str = "") -> list[dict[str, Any]]:
    """The bodies of the requests llmx sent for one turn with ``model``."""
    place = tmp_path / model
    workspace = place / "project"
    workspace.mkdir(parents=True)
    home = place / "home"
    home.mkdir()
    script = script or {"turns": [], "fallback": [{"type": "message", "text": "hi"}]}
    with ModelServer(Script.from_json(script)) as server:
        (home / "config.toml").write_text(
            f'model = "{model}"\nmodel_provider = "mock"\n{extra}[model_providers.mock]\n'
            f'name = "mock"\nbase_url = "{server.base_url}"\nenv_key = "{KEY_ENV}"\n')
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(ThreadOptions(cwd=workspace))
            await thread.submit(thread.user_turn([TextInput(text="say hi")]))
            await within(thread.close(), "the thread to close")
        return [request.body for request in server.model_requests()]


def test_the_catalog_is_codex_bundled_one() -> None:
    catalog = json.loads((MODELS / "bundled_catalog.json").read_text())["models"]
    assert [(f.prefix, f.context_window, f.apply_patch, f.shell, f.search_images)
            for f in BUNDLED] == [
        (m["slug"], m["context_window"], m["apply_patch_tool_type"] == "freeform",
         m["shell_type"] != "disabled", m["web_search_tool_type"] == "text_and_image")
        for m in catalog]
    assert model_family("gpt-5.5-mini").prefix == "gpt-5.5"
    assert model_family("gpt-5") is FALLBACK
    assert model_family("gpt-6.1-terra-2027").context_window == 500_000


@pytest.mark.asyncio
@pytest.mark.parametrize("model", [m for m in RECORDED if RECORDED[m]["tools"] is not None])
async def test_the_tools_codex_offers_the_same_model(tmp_path: Path, model: str) -> None:
    codex = codex_tools(model)
    assert codex is not None
    [body] = await first_request(tmp_path, model)
    sent = body["tools"]
    # Codex's own tools, in Codex's order, and nothing else ...
    assert [name(t) for t in sent] == [name(t) for t in codex if name(t) not in NOT_IN_LLMX]
    # ... each as Codex defines it.
    by_name = {name(t): t for t in codex}
    for tool in sent:
        if name(tool) in OWN_SCHEMA:
            assert tool["type"] == by_name[name(tool)]["type"]
        else:
            assert tool == by_name[name(tool)], name(tool)
    # What llmx lacks is exactly what is named above.
    assert {name(t) for t in codex} - {name(t) for t in sent} <= NOT_IN_LLMX


@pytest.mark.asyncio
@pytest.mark.parametrize("model", [m for m in RECORDED if RECORDED[m]["tools"] is None])
async def test_code_mode_models_get_the_catalog_tools(tmp_path: Path, model: str) -> None:
    """Codex runs these in code mode (no ``tools``); llmx, which has none, offers them what
    it offers the catalog's other models."""
    [body] = await first_request(tmp_path, model)
    [reference] = await first_request(tmp_path, "gpt-5.5")
    assert body["tools"] == reference["tools"]


@pytest.mark.asyncio
async def test_a_tool_not_offered_is_answered_as_codex_answers_it(tmp_path: Path) -> None:
    calls = json.loads((MODELS / "unoffered_calls.json").read_text())["calls"]
    for call in calls:
        script = {"turns": [[call["script"]]], "fallback": [{"type": "message", "text": "ok"}]}
        bodies = await first_request(tmp_path / call["name"], call["model"], script)
        last = bodies[1]["input"][-1]
        assert (last["type"], last["output"]) == (call["output_type"], call["output"])
    # Nothing was written: the patch never ran.
    assert not await asyncio.to_thread(lambda: list(tmp_path.rglob("hello.txt")))


@pytest.mark.asyncio
async def test_model_catalog_json_replaces_the_catalog(tmp_path: Path) -> None:
    entries = [{"slug": "local-model", "context_window": 64000,
                "apply_patch_tool_type": "freeform", "shell_type": "unified_exec",
                "web_search_tool_type": "text"},
               {"slug": "local-noshell", "shell_type": "disabled",
                "apply_patch_tool_type": None}]
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"models": entries}))
    extra = f'model_catalog_json = "{catalog}"\n'
    [local] = await first_request(tmp_path, "local-model-q4", extra=extra)
    [bare] = await first_request(tmp_path, "local-noshell", extra=extra)
    # The bundled catalog is gone: gpt-5.5 is an unknown model now, as in Codex.
    [replaced] = await first_request(tmp_path, "gpt-5.5", extra=extra)
    assert [name(t) for t in local["tools"]] == [
        "exec_command", "write_stdin", "request_user_input", "apply_patch", "view_image",
        "web_search"]
    assert "search_content_types" not in local["tools"][-1]
    assert [name(t) for t in bare["tools"]] == ["request_user_input", "view_image",
                                                "web_search"]
    assert "apply_patch" not in [name(t) for t in replaced["tools"]]


@pytest.mark.asyncio
@pytest.mark.parametrize(("text", "what"), [
    ("not json", "not JSON"),
    ('{"models": {}}', 'expected {"models": [...]}'),
    ('{"models": [{"context_window": 1}]}', "models[0] has no slug"),
    ('{"models": [{"slug": "m", "apply_patch_tool_type": "function"}]}',
     "apply_patch_tool_type 'function' is not freeform or null"),
])
async def test_a_bad_catalog_stops_the_start_in_one_line(tmp_path: Path, text: str,
                                                         what: str) -> None:
    catalog = tmp_path / "catalog.json"
    catalog.write_text(text)
    with pytest.raises(ThreadError) as raised:
        await first_request(tmp_path, "m", extra=f'model_catalog_json = "{catalog}"\n')
    assert str(raised.value.what).startswith(f"model_catalog_json {catalog}: ")
    assert what in raised.value.what
    assert "\n" not in raised.value.what
