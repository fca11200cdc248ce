"""``/mcp`` in the live session: the thread's MCP servers as they started, with their
tools (a real MCP server, the SDK-built calc server, over stdio); and a form that server
asks the user to fill in, field by field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp_tests.mcp_harness import stdio_table
from support.model_server import scripted
from textual.pilot import Pilot
from textual.widgets import Input, Static
from tui.live_harness import (
    API_KEY_ENV,
    idle,
    live_app,
    make_home,
    make_workspace,
    slash_page,
    submissions,
    type_line,
    until,
)

from llmx.cli.tui.app import LlmxApp
from llmx.cli.tui.form_screen import FormScreen

pytestmark = pytest.mark.asyncio


async def test_mcp_lists_the_servers_with_their_state_and_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(API_KEY_ENV, "k")
    servers = stdio_table("calc") + '[mcp_servers.broken]\ncommand = "no-such-mcp-server"\n'
    with scripted({"turns": [], "fallback": [{"type": "message", "text": "hi"}]}) as model:
        home = make_home(tmp_path, model.base_url, servers)
        app = live_app(home, make_workspace(tmp_path))
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.thread is not None, "the open session")
            assert app.thread is not None
            connections = app.thread.settings.mcp
            assert connections is not None
            await until(pilot, lambda: all(server.state.value != "starting"
                                           for server in connections.servers.values()),
                        "the servers' start")
            shown = await slash_page(pilot, app, "/mcp")
            await pilot.press("ctrl+c", "ctrl+c")
    assert "• calc  ready" in shown, shown
    for tool in ("add", "peek", "fail", "crash", "hang", "env", "launch"):
        assert f" {tool}" in shown
    assert "• broken  failed: " in shown
    assert "no-such-mcp-server" in shown


async def test_mcp_without_servers_says_how_to_add_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(API_KEY_ENV, "k")
    with scripted({"turns": [], "fallback": [{"type": "message", "text": "hi"}]}) as model:
        app = live_app(make_home(tmp_path, model.base_url), make_workspace(tmp_path))
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.thread is not None, "the open session")
            shown = await slash_page(pilot, app, "/mcp")
            await pilot.press("ctrl+c", "ctrl+c")
    assert "No MCP servers are configured" in shown


def _signup_script() -> dict[str, object]:
    return {"turns": [
        [{"type": "function_call", "name": "signup", "namespace": "mcp__calc",
          "arguments": {}}],
        [{"type": "message", "text": "Done."}],
    ]}


def _field_shown(app: LlmxApp) -> str:
    return str(app.screen.query_one("#form-field", Static).render())


async def _answer(pilot: Pilot[Any], app: LlmxApp, typed: str) -> None:
    entry = app.screen.query_one("#form-input", Input)
    entry.value = typed
    await pilot.press("enter")


async def test_a_form_is_asked_field_by_field_and_a_bad_value_asked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(API_KEY_ENV, "k")
    servers = stdio_table("calc", required=True, default_tools_approval_mode="approve")
    with scripted(_signup_script()) as model:
        home = make_home(tmp_path, model.base_url, servers)
        app = live_app(home, make_workspace(tmp_path))
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.thread is not None, "the open session")
            await type_line(pilot, "sign me up")
            await until(pilot, lambda: isinstance(app.screen, FormScreen), "the form")
            first = _field_shown(app)
            await _answer(pilot, app, "Ann")
            await until(pilot, lambda: "Field 2/4" in _field_shown(app), "the second field")
            await _answer(pilot, app, "thirty")
            await pilot.pause()
            refused = str(app.screen.query_one("#form-error", Static).render())
            still = _field_shown(app)
            await _answer(pilot, app, "30")
            await until(pilot, lambda: "Field 3/4" in _field_shown(app), "the third field")
            choices = _field_shown(app)
            await _answer(pilot, app, "2")
            await until(pilot, lambda: "Field 4/4" in _field_shown(app), "the fourth field")
            await _answer(pilot, app, "yes")
            await until(pilot, lambda: not isinstance(app.screen, FormScreen), "the form's end")
            await until(pilot, idle(app), "the turn's end")
            await pilot.press("ctrl+c", "ctrl+c")
        sent = model.model_requests()[-1].body["input"]
    assert "calc asks:" in first
    assert "Sign up for the launch" in first
    assert "Field 1/4: Name (required)" in first
    assert "What to call you" in first
    assert refused == "field `age`: 'thirty' is not an integer; answer again"
    assert "Field 2/4: Age (required)" in still
    assert "an integer from 0 to 150" in still
    for number, color in enumerate(("red", "green", "blue"), start=1):
        assert f"{number}. {color}" in choices
    outputs = [str(item["output"]) for item in sent if item.get("type") == "function_call_output"]
    assert any('accept: {\\"name\\":\\"Ann\\",\\"age\\":30,\\"color\\":\\"green\\",'
               '\\"newsletter\\":true}' in output for output in outputs), outputs
    [rollout] = list(home.glob("sessions/*/*/*/rollout-*.jsonl"))
    [answer] = [s for s in submissions(rollout) if s["op"]["type"] == "resolve_elicitation"]
    assert answer["op"]["content"] == {"name": "Ann", "age": 30, "color": "green",
                                       "newsletter": True}
    assert (answer["op"]["decision"], answer["decided_by"]) == ("accept", "user")


async def test_esc_declines_a_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "k")
    servers = stdio_table("calc", required=True, default_tools_approval_mode="approve")
    with scripted(_signup_script()) as model:
        home = make_home(tmp_path, model.base_url, servers)
        app = live_app(home, make_workspace(tmp_path))
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.thread is not None, "the open session")
            await type_line(pilot, "sign me up")
            await until(pilot, lambda: isinstance(app.screen, FormScreen), "the form")
            await _answer(pilot, app, "Ann")
            await until(pilot, lambda: "Field 2/4" in _field_shown(app), "the second field")
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, FormScreen), "the form's end")
            await until(pilot, idle(app), "the turn's end")
            await pilot.press("ctrl+c", "ctrl+c")
        sent = model.model_requests()[-1].body["input"]
    outputs = [str(item["output"]) for item in sent if item.get("type") == "function_call_output"]
    assert any("answer: decline" in output for output in outputs), outputs
    [rollout] = list(home.glob("sessions/*/*/*/rollout-*.jsonl"))
    [answer] = [s for s in submissions(rollout) if s["op"]["type"] == "resolve_elicitation"]
    assert (answer["op"]["decision"], answer["decided_by"]) == ("decline", "user")
    assert "content" not in answer["op"]
