"""The interactive session on a home it cannot write to, in Textual's pilot against the
loopback model server, on real file systems that refuse: ``sessions`` a file, a
read-only bind mount, a full tmpfs.

The failure is said in one line, as ``llmx exec`` says it, never a traceback nor a turn
shown working forever. A prompt of which nothing was saved goes back into the composer,
and a new thread takes it once the disk is fixed; leaving before that is an error (its
line, exit status 1). A session that has a file and cannot go on writing it ends with
the error, the file intact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import pytest
from support.model_server import scripted
from support.mounts import fill, mount, read_only, tiny_tmpfs
from textual.pilot import Pilot
from tui.live_harness import (
    API_KEY_ENV,
    idle,
    live_app,
    make_home,
    make_workspace,
    rollout_lines,
    type_line,
    until,
)

from llmx.cli.thread_errors import thread_error
from llmx.cli.tui.app import LlmxApp
from llmx.cli.tui.resume_picker import ResumePicker
from llmx.cli.tui.session_start import Start
from llmx.projections import transcript_cells as tc

pytestmark = pytest.mark.asyncio

SCRIPT = {"turns": [{"match": "big", "items": [{"type": "message", "text": "b" * 400_000}]}],
          "fallback": [{"type": "message", "text": "Answered."}]}
ROLLOUTS = "sessions/*/*/*/rollout-*.jsonl"


@pytest.fixture(autouse=True)
def _model_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "k")


@contextmanager
def sessions_a_file(home: Path) -> Iterator[Callable[[], None]]:
    """``sessions`` is a file; the fix moves it away."""
    (home / "sessions").write_text("not a folder")
    yield lambda: (home / "sessions").rename(home / "sessions.moved")


@contextmanager
def read_only_home(home: Path) -> Iterator[Callable[[], None]]:
    """The home is a read-only bind mount; the fix remounts it writable."""
    def fix() -> None:
        assert mount("-o", "remount,rw,bind", str(home)) is None

    with read_only(home):
        yield fix


BROKEN = {
    "sessions is a file": (sessions_a_file, "cannot use {home}/sessions: a part of the path "
                           "is a file where a folder is expected — move that file out of "
                           "the way"),
    "read-only home": (read_only_home, "cannot write {home}/sessions: the file system is "
                       "read-only — make it writable, or point LLMX_HOME at a writable "
                       "folder"),
}


def noted(app: LlmxApp, text: str) -> bool:
    return text in app.notes


def answered(app: LlmxApp) -> bool:
    return any(isinstance(cell, tc.AgentCell) and "Answered." in cell.text
               for cell in app.view.cells)


async def first_turn(pilot: Pilot[Any], app: LlmxApp, home: Path) -> Path:
    """Send a first prompt and wait for its turn to end; the rollout it made."""
    await type_line(pilot, "first")
    await until(pilot, lambda: answered(app), "the first answer")
    await until(pilot, idle(app), "the first turn's end")
    return only_rollout(home)


def only_rollout(home: Path) -> Path:
    [rollout] = list(home.glob(ROLLOUTS))
    return rollout


@pytest.mark.parametrize("broken", list(BROKEN))
async def test_the_first_prompt_on_an_unwritable_home_comes_back_to_the_composer(
    tmp_path: Path, broken: str
) -> None:
    breaking, error = BROKEN[broken]
    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        error = error.format(home=home)
        app = live_app(home, work)
        with breaking(home) as fix:
            async with app.run_test(size=(100, 30)) as pilot:
                await type_line(pilot, "hello there")
                await until(pilot, lambda: noted(app, error), "the error line")
                assert "the prompt was not saved, nor answered: it is back in the composer" \
                    in app.notes
                await until(pilot, idle(app), "a new thread, idle")
                assert app.composer.text == "hello there"
                assert app.composer.has_focus
                # Said again when the app ends now (exit status 1, see launch.run_live).
                assert isinstance(app.failure, OSError)
                assert str(thread_error(app.failure)) == error
                assert "Working" not in str(app.query_one("#activity").render())
                assert list(home.glob(ROLLOUTS)) == []
                # Fixed, the prompt is sent again as it is (Enter) and saved.
                fix()
                await pilot.press("enter")
                await until(pilot, lambda: answered(app), "the answer")
                await until(pilot, idle(app), "the turn's end")
                assert app.failure is None
                await pilot.press("ctrl+c")
                await pilot.press("ctrl+c")
            assert app.return_code == 0
    [rollout] = list(home.glob(ROLLOUTS))
    prompts = [line["payload"]["op"]["items"][0]["text"] for line in rollout_lines(rollout)
               if line["type"] == "submission" and line["payload"]["op"]["type"] == "user_turn"]
    assert prompts == ["hello there"]


async def test_leaving_before_the_home_is_fixed_is_the_error(tmp_path: Path) -> None:
    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        app = live_app(home, work)
        with sessions_a_file(home):
            async with app.run_test(size=(100, 30)) as pilot:
                await type_line(pilot, "hello there")
                await until(pilot, lambda: app.composer.text == "hello there",
                            "the prompt back in the composer")
                await pilot.press("ctrl+c")  # clears the composer
                await pilot.press("ctrl+c")
                await pilot.press("ctrl+c")
            assert app.return_code == 0
    # launch.run_live raises it: one error line, exit status 1.
    assert isinstance(app.failure, NotADirectoryError)
    assert str(thread_error(app.failure)).startswith(f"cannot use {home / 'sessions'}: ")
    assert (home / "sessions").read_text() == "not a folder"


async def test_a_prompt_the_full_disk_cannot_log_comes_back_and_the_session_goes_on(
    tmp_path: Path,
) -> None:
    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        with tiny_tmpfs(home):
            app = live_app(home, work)
            async with app.run_test(size=(100, 30)) as pilot:
                rollout = await first_turn(pilot, app, home)
                before = rollout.read_bytes()
                filler = fill(home)
                # Longer than a page: the slack of the file's last page cannot take it.
                long = "second " + "x" * 8192
                app.composer.set_text(long)
                await pilot.press("enter")
                await until(pilot, lambda: any("no space left on the device" in note
                                               for note in app.notes), "the error line")
                assert f"cannot write {rollout}: no space left on the device — free some " \
                    "space there and retry" in app.notes
                assert app.composer.text == long
                assert rollout.read_bytes() == before
                filler.unlink()
                await pilot.press("enter")
                await until(pilot, lambda: rollout.read_bytes() != before and idle(app)(),
                            "the second turn's end")
                assert app.failure is None
                await pilot.press("ctrl+c")
                await pilot.press("ctrl+c")
            assert app.return_code == 0
            prompts = [line["payload"]["op"]["items"][0]["text"]
                       for line in rollout_lines(rollout) if line["type"] == "submission"
                       and line["payload"]["op"]["type"] == "user_turn"]
            assert prompts == ["first", long]


async def test_a_session_that_cannot_go_on_writing_its_file_ends_with_the_error(
    tmp_path: Path,
) -> None:
    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        with tiny_tmpfs(home):
            app = live_app(home, work)
            async with app.run_test(size=(100, 30)) as pilot:
                rollout = await first_turn(pilot, app, home)
                fill(home, leave=64 << 10)  # room for a prompt, not for a 400 KB answer
                await type_line(pilot, "big answer please")
                await until(pilot, lambda: not app.is_running, "the app to end")
            assert app.return_value == 1
            failure = app.failure
            assert isinstance(failure, OSError)
            assert str(thread_error(failure)) == (
                f"cannot write {rollout}: no space left on the device — free some space "
                "there and retry")
            # What was acknowledged is kept, whole.
            lines = rollout_lines(rollout)
            assert [line["ordinal"] for line in lines] == list(range(len(lines)))
            assert "big answer please" in rollout.read_text()


async def test_a_history_file_that_cannot_be_written_is_a_note_and_the_session_goes_on(
    tmp_path: Path,
) -> None:
    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        (home / "history.jsonl").mkdir()  # written after the rollout, which takes the prompt
        app = live_app(home, work)
        async with app.run_test(size=(100, 30)) as pilot:
            await type_line(pilot, "hello there")
            await until(pilot, lambda: answered(app), "the answer")
            await until(pilot, idle(app), "the turn's end")
            assert app.notes == [
                f"prompt not saved to {home / 'history.jsonl'}: Is a directory; the session "
                "goes on (its rollout has the prompt)"]
            await pilot.press("ctrl+c")
            await pilot.press("ctrl+c")
        assert app.return_code == 0
    assert app.failure is None
    [rollout] = list(home.glob(ROLLOUTS))
    assert "hello there" in rollout.read_text()


INDEX_BROKEN = {
    "state.sqlite is a folder": (
        lambda home: (home / "state.sqlite").mkdir(),
        "cannot use {home}/state.sqlite: is a folder where a file is expected — move that "
        "folder out of the way"),
    "read-only home": (
        None,
        "cannot write {home}/state.sqlite: the file system is read-only — make it "
        "writable, or point LLMX_HOME at a writable folder"),
}


@pytest.mark.parametrize("broken", list(INDEX_BROKEN))
async def test_the_resume_picker_says_what_keeps_it_from_the_index(
    tmp_path: Path, broken: str
) -> None:
    breaking, problem = INDEX_BROKEN[broken]
    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        app = live_app(home, work, Start.pick())
        with read_only(home) if breaking is None else nullcontext():
            if breaking is not None:
                breaking(home)
            async with app.run_test(size=(100, 30)) as pilot:
                await until(pilot, lambda: isinstance(app.screen, ResumePicker),
                            "the picker")
                picker = app.screen
                assert isinstance(picker, ResumePicker)
                await until(pilot, lambda: picker.problem is not None, "the problem")
                assert picker.problem == problem.format(home=home)
                await pilot.press("ctrl+c")
            assert app.return_code == 0
