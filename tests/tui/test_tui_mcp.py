"""``/mcp`` in the live session: the thread's MCP servers as they started, with their
tools (a real MCP server, the SDK-built calc server, over stdio)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp_tests.mcp_harness import stdio_table
from support.model_server import scripted
from textual.widgets import Static
from tui.live_harness import API_KEY_ENV, live_app, make_home, make_workspace, type_line, until

from llmx.cli.tui.app import LlmxApp
from llmx.cli.tui.overlay_screen import TextPage

pytestmark = pytest.mark.asyncio


def page_text(app: LlmxApp) -> str:
    return "\n".join(str(static.render()) for static in app.screen.query(Static))


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
            await type_line(pilot, "/mcp")
            await until(pilot, lambda: isinstance(app.screen, TextPage), "the /mcp page")
            await pilot.pause()
            shown = page_text(app)
            await pilot.press("escape")
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
            await type_line(pilot, "/mcp")
            await until(pilot, lambda: isinstance(app.screen, TextPage), "the /mcp page")
            await pilot.pause()
            shown = page_text(app)
            await pilot.press("escape")
            await pilot.press("ctrl+c", "ctrl+c")
    assert "No MCP servers are configured" in shown
