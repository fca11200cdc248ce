"""Ctrl-R in the live session: the prompt history (``history.jsonl`` of the home) searched
as you type, newest first; Enter puts the chosen prompt in the composer, Esc leaves the
composer as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.model_server import scripted
from textual.geometry import Region
from textual.widgets import Input, OptionList
from tui.live_harness import API_KEY_ENV, live_app, make_home, make_workspace, until

from llmx.cli.tui.history_search import HistorySearch
from llmx.events.history import HistoryFile
from llmx.events.home import history_path

pytestmark = pytest.mark.asyncio

PROMPTS = ["deploy the staging site", "write the release notes", "deploy production",
           "fix the flaky test"]


async def test_ctrl_r_finds_a_prompt_of_the_history_file_and_puts_it_in_the_composer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(API_KEY_ENV, "k")
    with scripted({"turns": [], "fallback": [{"type": "message", "text": "hi"}]}) as model:
        home = make_home(tmp_path, model.base_url)
        history = HistoryFile(history_path(home))
        for number, prompt in enumerate(PROMPTS):
            history.append("01a1fc9b-0000-7000-8000-000000000002", prompt,
                           ts=1_700_000_000 + number)
        app = live_app(home, make_workspace(tmp_path))
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.thread is not None, "the open session")
            await pilot.press(*"draft")
            await pilot.press("ctrl+r")
            await until(pilot, lambda: isinstance(app.screen, HistorySearch), "the search")
            await pilot.press(*"deploy")
            await pilot.pause()
            # What is typed shows on the query's line (no border eats its one row).
            query = app.screen.query_one(Input)
            assert query.content_region.height == 1
            [row] = query.render_lines(Region(0, 0, query.content_region.width, 1))
            assert "deploy" in row.text
            found = app.screen.query_one(OptionList)
            listed = [str(found.get_option_at_index(index).prompt)
                      for index in range(found.option_count)]
            assert listed == ["deploy production", "deploy the staging site"]
            # Ctrl-R again goes to the next older match; Enter takes it.
            await pilot.press("ctrl+r", "enter")
            await until(pilot, lambda: not isinstance(app.screen, HistorySearch), "the pick")
            assert app.composer.text == "deploy the staging site"
            # Esc leaves the composer as it was.
            await pilot.press("ctrl+r")
            await until(pilot, lambda: isinstance(app.screen, HistorySearch), "the search")
            app.screen.query_one(Input).value = "release"
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, HistorySearch), "its end")
            assert app.composer.text == "deploy the staging site"
            await pilot.press("ctrl+c", "ctrl+c")
