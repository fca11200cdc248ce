"""``llmx resume`` without an id: the picker over the session index, driven in the pilot
over sessions the live app recorded against the loopback model server (two in this
folder, one in another): newest first, this folder by default and Tab for all, a search
that narrows as it is typed, the highlighted session's first prompt and last messages,
Enter resumes, Esc clears the search and then starts a new session, Ctrl-C quits."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from support.model_server import scripted
from support.tmux import Tmux, needs_tmux
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static
from tui.live_harness import (
    API_KEY_ENV,
    idle,
    live_app,
    make_home,
    make_workspace,
    type_line,
    until,
)
from tui.test_tui_terminal import terminal_env

from llmx.cli.tui.app import LlmxApp
from llmx.cli.tui.resume_picker import ResumePicker
from llmx.cli.tui.session_start import Start

pytestmark = pytest.mark.asyncio

ANSWERS = ["Staging is deployed.", "The logs are clean.", "The login bug is fixed.",
           "Production is deployed."]


async def record(home: Path, work: Path, prompts: list[str]) -> str:
    """A session in ``work`` with ``prompts`` answered; its thread id."""
    app = live_app(home, work)
    async with app.run_test(size=(80, 24)) as pilot:
        for prompt in prompts:
            await type_line(pilot, prompt)
            await until(pilot, idle(app), f"the answer to {prompt!r}")
        assert app.thread is not None
        thread_id = app.thread.thread_id
        await pilot.press("ctrl+c", "ctrl+c")
    return thread_id


def picker(app: LlmxApp) -> ResumePicker:
    screen = app.screen
    assert isinstance(screen, ResumePicker)
    return screen


def listed(app: LlmxApp) -> list[str]:
    """The ids of the rows the picker's list shows, top to bottom."""
    options = picker(app).query_one(OptionList)
    return [str(options.get_option_at_index(i).id) for i in range(options.option_count)]


def preview(app: LlmxApp) -> list[str]:
    return str(picker(app).query_one("#picker-preview", Static).content).splitlines()


async def open_picker(pilot: Pilot[Any], app: LlmxApp) -> None:
    await until(pilot, lambda: isinstance(app.screen, ResumePicker) and picker(app).rows,
                "the picker's rows")


@pytest.fixture
def sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(API_KEY_ENV, "k")
    script = {"turns": [{"items": [{"type": "message", "text": text}]} for text in ANSWERS],
              "fallback": [{"type": "message", "text": "Later answer."}]}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        other = tmp_path / "elsewhere"
        other.mkdir()
        yield home, work, other


async def test_the_picker_lists_newest_first_filters_by_folder_and_previews(
    sessions: Any,
) -> None:
    home, work, other = sessions
    staging = await record(home, work, ["deploy the staging server", "check the logs"])
    login = await record(home, work, ["fix the login bug"])
    production = await record(home, other, ["deploy production"])
    app = live_app(home, work, Start.pick())
    async with app.run_test(size=(100, 30)) as pilot:
        await open_picker(pilot, app)
        # This folder's sessions by default, newest first.
        assert listed(app) == [login, staging]
        assert preview(app)[1:] == ["fix the login bug", "• The login bug is fixed."]
        # The preview follows the highlight: the first prompt, then the last messages.
        await pilot.press("down")
        await until(pilot, lambda: preview(app)[1:2] == ["deploy the staging server"],
                    "the second session's preview")
        assert preview(app)[0].startswith(staging)
        assert preview(app)[2:] == ["• Staging is deployed.", "› check the logs",
                                    "• The logs are clean."]
        # Tab shows every folder's sessions, and again only this folder's.
        await pilot.press("tab")
        await until(pilot, lambda: len(listed(app)) == 3, "every folder's sessions")
        assert listed(app) == [production, login, staging]
        await pilot.press("tab")
        await until(pilot, lambda: len(listed(app)) == 2, "this folder's sessions")
        assert listed(app) == [login, staging]
    app = live_app(home, work, Start.pick(all_folders=True))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_picker(pilot, app)
        assert listed(app) == [production, login, staging]
        assert "esc new" in keys(app)
        await pilot.press("escape")  # an empty search: Esc leaves for a new session
        await until(pilot, lambda: app.thread is not None, "the new session")
        assert app.thread is not None
        opened = app.thread.thread_id
        assert opened not in (production, login, staging)
        assert not isinstance(app.screen, ResumePicker)
        # From /resume, Esc goes back to the session open, and the keys say so.
        await type_line(pilot, "/model")  # a note about this thread
        assert app.notes
        await type_line(pilot, "/resume")
        await open_picker(pilot, app)
        assert "esc back" in keys(app)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ResumePicker), "the way back")
        assert app.thread is not None
        assert app.thread.thread_id == opened
        await type_line(pilot, "/new")
        await until(pilot, lambda: app.thread is not None and app.thread.thread_id != opened,
                    "the next new session")
        assert app.notes == []  # the thread left took its notes with it
        await pilot.press("ctrl+c", "ctrl+c")


def keys(app: LlmxApp) -> str:
    """The picker's line of keys."""
    return str(picker(app).query_one("#picker-keys", Static).content)


async def test_the_search_narrows_as_it_is_typed_and_enter_resumes(sessions: Any) -> None:
    home, work, other = sessions
    staging = await record(home, work, ["deploy the staging server", "check the logs"])
    login = await record(home, work, ["fix the login bug"])
    production = await record(home, other, ["deploy production"])
    app = live_app(home, work, Start.pick(all_folders=True))
    async with app.run_test(size=(100, 30)) as pilot:
        await open_picker(pilot, app)
        assert listed(app) == [production, login, staging]
        seen: list[list[str]] = []
        for key in "deploy":
            await pilot.press(key)
            await pilot.pause()
            seen.append(listed(app))
        # A partial word already matches ("dep"), and the list only narrows.
        assert seen[2] == [production, staging]
        assert all(set(later) <= set(earlier) for earlier, later in itertools.pairwise(seen))
        assert seen[-1] == [production, staging]
        await pilot.press("space", "s", "t")
        await until(pilot, lambda: listed(app) == [staging], "the staging session alone")
        # The folder filter applies to a search too.
        await pilot.press("tab")
        await until(pilot, lambda: picker(app).all_folders is False, "this folder")
        assert listed(app) == [staging]
        await pilot.press("tab")
        # Esc with a search clears it, keeping the picker.
        await pilot.press("escape")
        await until(pilot, lambda: len(listed(app)) == 3, "the whole list again")
        assert picker(app).query_one(Input).value == ""
        # An id prefix finds its session, as does a word of its folder's name.
        await pilot.press(*production[:13])
        await until(pilot, lambda: listed(app) == [production], "the session by id")
        picker(app).query_one(Input).value = "elsewhere"
        await until(pilot, lambda: listed(app) == [production], "the session by folder")
        picker(app).query_one(Input).value = "logs"
        await until(pilot, lambda: listed(app) == [staging], "a later prompt's word")
        await pilot.press("enter")
        await until(pilot, lambda: app.thread is not None, "the resumed session")
        assert app.thread is not None
        assert app.thread.thread_id == staging
        await until(pilot, lambda: any("The logs are clean." in line
                                       for line in app.view.plain_lines()),
                    "the resumed transcript")
        await pilot.press("ctrl+c", "ctrl+c")


async def test_ctrl_c_in_the_picker_quits(sessions: Any) -> None:
    home, work, _ = sessions
    await record(home, work, ["fix the login bug"])
    app = live_app(home, work, Start.pick())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_picker(pilot, app)
        await pilot.press("ctrl+c")
        await until(pilot, lambda: app.return_code is not None, "the app's end")
    assert app.return_code == 0
    assert app.thread is None


@needs_tmux
async def test_llmx_resume_in_a_terminal_picks_searches_and_resumes(sessions: Any) -> None:
    home, work, other = sessions
    staging = await record(home, work, ["deploy the staging server", "check the logs"])
    await record(home, work, ["fix the login bug"])
    await record(home, other, ["deploy production"])
    with Tmux([sys.executable, "-m", "llmx", "resume"], env=terminal_env(home),
              cwd=work) as term:
        screen = term.expect("Resume a previous session")
        screen = term.expect("fix the login bug")
        # Newest first, this folder only; the highlighted (newest) session's answer shows.
        assert screen.index("fix the login bug") < screen.index("deploy the staging server")
        assert "deploy production" not in screen
        term.expect("• The login bug is fixed.")
        term.type("stag")
        screen = term.expect_gone("fix the login bug")
        # The staging session alone, with its first prompt and last messages.
        assert "› check the logs" in screen
        assert "• The logs are clean." in screen
        term.send("Escape")  # clears the search
        term.expect("fix the login bug")
        term.send("Tab")
        term.expect("deploy production")
        term.send("Tab")
        term.expect_gone("deploy production")
        term.type("logs")
        term.expect_gone("fix the login bug")
        term.send("Enter")
        term.expect_gone("Resume a previous session")
        term.expect("mock-model ·")
        screen = term.expect_gone("Resuming the session")
        assert "The logs are clean." in screen
        assert "deploy the staging server" in screen
        assert "mock-model ·" in screen
        term.send("C-c")
        term.send("C-c")
        assert term.exit_status() == 0
    lines = [json.loads(line) for path in home.glob(f"sessions/*/*/*/*{staging}.jsonl")
             for line in path.read_text().splitlines()]
    # The resumed session is the staging one: its file gained the resume's lines.
    assert [line["payload"]["id"] for line in lines if line["type"] == "session_meta"] \
        .count(staging) >= 1
