"""Esc Esc in the live app, over turns that patched files: after the prompt is picked, the
app asks whether to also revert the files those turns patched (default: no). The real
runtime, a loopback model server and real files in a temporary workspace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.model_server import scripted
from textual.pilot import Pilot
from tui.live_harness import (
    API_KEY_ENV,
    events_of,
    idle,
    live_app,
    make_home,
    make_workspace,
    submissions,
    type_line,
    until,
)

from llmx.cli.tui.app import LlmxApp
from llmx.cli.tui.overlay_screen import BacktrackScreen, RevertFilesScreen
from llmx.projections import transcript_cells as tc
from llmx.projections.transcript_pages import fold_file

pytestmark = pytest.mark.asyncio

# A model whose catalog entry offers apply_patch, as Codex's does.
PATCHING_MODEL = "gpt-5.5"


@pytest.fixture(autouse=True)
def _model_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "k")


def _script() -> dict[str, object]:
    def patch(body: str) -> dict[str, object]:
        return {"type": "custom_tool_call", "name": "apply_patch",
                "input": f"*** Begin Patch\n{body}*** End Patch"}

    return {"turns": [
        {"match": "first", "items": [patch("*** Add File: notes.txt\n+one\n")]},
        {"match": "second", "items": [
            patch("*** Update File: notes.txt\n@@\n-one\n+two\n*** Add File: more.txt\n+more\n")]},
    ], "fallback": [{"type": "message", "text": "Done."}]}


async def _two_patching_turns(pilot: Pilot[Any], app: LlmxApp) -> None:
    for number, prompt in enumerate(("first", "second"), start=1):
        await type_line(pilot, prompt)
        await until(pilot, lambda n=number: sum(isinstance(c, tc.AgentCell)
                                                for c in app.view.cells) == n,
                    f"answer {number}")
        await until(pilot, idle(app), f"turn {number}'s end")


def _files(workspace: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(workspace.iterdir())
            if path.is_file()}


@pytest.mark.parametrize("answer", ["enter", "y"])
async def test_going_back_asks_whether_to_revert_the_patched_files(
    tmp_path: Path, answer: str
) -> None:
    with scripted(_script()) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        app = live_app(home, work, model=PATCHING_MODEL, sandbox_mode="workspace-write",
                       approval_policy="never")
        async with app.run_test(size=(100, 30)) as pilot:
            await _two_patching_turns(pilot, app)
            assert _files(work) == {"more.txt": "more\n", "notes.txt": "two\n"}
            await pilot.press("escape", "escape")
            await until(pilot, lambda: isinstance(app.screen, BacktrackScreen),
                        "the list of earlier prompts")
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, RevertFilesScreen)
                        and bool(app.screen.query("#revert-question")), "the question")
            question = str(app.screen.query_one("#revert-question").render())
            assert "Also revert the files their patches changed?" in question
            assert "changes made by shell commands stay as they are" in question
            assert str(work.resolve() / "more.txt") in question
            await pilot.press(answer)
            await until(pilot, lambda: app.composer.text == "second", "the prompt to edit")
            await until(pilot, lambda: [c.text for c in app.view.cells
                                        if isinstance(c, tc.UserCell)] == ["first"],
                        "the transcript without the rolled back turn")
            assert app.thread is not None
            rollout = app.thread.rollout_path
            assert rollout is not None
            notes = list(app.notes)
            [rolled_back] = [c.text for c in app.view.cells if isinstance(c, tc.InfoCell)]
            await pilot.press("ctrl+c", "ctrl+c")
    # The transcript says what happened to the files, live and from the file alike.
    assert [c.text for c in fold_file(rollout).cells if isinstance(c, tc.InfoCell)] \
        == [rolled_back]
    [rollback] = [s for s in submissions(rollout) if s["op"]["type"] == "thread_rollback"]
    assert [e["num_turns"] for e in events_of(rollout, "thread_rolled_back")] == [1]
    if answer == "y":
        assert rollback["op"] == {"type": "thread_rollback", "num_turns": 1,
                                  "revert_files": True}
        assert _files(work) == {"notes.txt": "one\n"}
        assert not any("reverted" in note for note in notes)  # the transcript says it
        assert rolled_back == ("Conversation reverted to this point. 2 files changed by its "
                               "patches reverted (changes made by shell commands stay).")
    else:
        # Codex's own words for a rollback that leaves the files.
        assert rolled_back == "Conversation reverted to this point. File changes are unchanged."
        assert rollback["op"] == {"type": "thread_rollback", "num_turns": 1}
        assert _files(work) == {"more.txt": "more\n", "notes.txt": "two\n"}


async def test_a_file_changed_since_refuses_the_revert_and_the_app_says_why(
    tmp_path: Path
) -> None:
    with scripted(_script()) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        app = live_app(home, work, model=PATCHING_MODEL, sandbox_mode="workspace-write",
                       approval_policy="never")
        async with app.run_test(size=(100, 30)) as pilot:
            await _two_patching_turns(pilot, app)
            (work / "more.txt").write_text("more, by hand\n")
            await pilot.press("escape", "escape")
            await until(pilot, lambda: isinstance(app.screen, BacktrackScreen),
                        "the list of earlier prompts")
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, RevertFilesScreen),
                        "the question")
            await pilot.press("y")
            await until(pilot, lambda: any("cannot revert" in note for note in app.notes),
                        "the refusal")
            [note] = [note for note in app.notes if "cannot revert" in note]
            assert note == (f"going back: cannot revert {work.resolve()}/more.txt: it changed "
                            "since the patch (it no longer holds what the patch added); "
                            "nothing was reverted")
            # Nothing went back: the transcript keeps both turns, the composer stays empty.
            assert [c.text for c in app.view.cells if isinstance(c, tc.UserCell)] == [
                "first", "second"]
            assert app.composer.text == ""
            assert app.thread is not None
            rollout = app.thread.rollout_path
            assert rollout is not None
            await pilot.press("ctrl+c", "ctrl+c")
    assert events_of(rollout, "thread_rolled_back") == []
    assert _files(work) == {"more.txt": "more, by hand\n", "notes.txt": "two\n"}
