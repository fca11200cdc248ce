"""The ``@`` file mention: the workspace's files as git sees them (ignored ones left out),
listed once in the background, searched as the query is typed; in the live app the
popup shows the matches and Tab puts the chosen path in the prompt."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import pytest
from support.model_server import scripted
from support.waits import WAIT_SECONDS
from textual.widgets import OptionList
from tui.live_harness import API_KEY_ENV, live_app, make_home, until

from llmx.cli.tui.file_search import FileIndex, rank, workspace_files

FILES = ["src/app/composer.py", "src/app/compositor.py", "src/app/transcript.py",
         "docs/composing.md", "README.md", "build/composer.o", "debug.log",
         "vendor/deep/nested/tree/of/folders/component_registry.py"]


def make_repo(root: Path) -> Path:
    for name in FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x\n")
    (root / ".gitignore").write_text("build/\n*.log\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, timeout=WAIT_SECONDS)
    # One file committed, the others untracked: both kinds are listed.
    subprocess.run(["git", "add", "README.md"], cwd=root, check=True, timeout=WAIT_SECONDS)
    return root


def test_the_index_lists_what_git_does_not_ignore_and_searches_like_rank(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo")
    index = FileIndex(repo)
    assert index.search("cmp") is None  # not started: nothing yet, no waiting
    index.start()
    assert index.wait(WAIT_SECONDS)
    files = workspace_files(repo)
    assert "build/composer.o" not in files
    assert "debug.log" not in files
    assert ".gitignore" in files
    # Typed letter by letter (each query extending the last, so searched among the last
    # one's matches), then edited back: always what ranking every file gives.
    for query in ["c", "co", "com", "comp", "compo", "compos", "composer", "compo", "tr",
                  "trans", "x", "xy", "README", "src/app", "S/A/C"]:
        assert index.search(query) == rank(query, files), query
    assert index.search("composer") == ["src/app/composer.py"]
    assert index.search("zzz") == []


def test_a_search_cut_short_still_finds_long_paths_when_the_query_grows(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo")
    # At most two matches scored: "o" matches most files, so its search stops early and
    # leaves the long path out; the next query must search every file again.
    index = FileIndex(repo, scored_max=2)
    index.start()
    assert index.wait(WAIT_SECONDS)
    shown = index.search("o")
    assert shown is not None
    assert len(shown) == 2
    assert "vendor/deep/nested/tree/of/folders/component_registry.py" not in shown
    assert index.search("o_reg") == ["vendor/deep/nested/tree/of/folders/component_registry.py"]
    for query in itertools.accumulate("compo"):
        found = index.search(query)
        assert found is not None
        assert set(found) <= set(workspace_files(repo))


@pytest.mark.asyncio
async def test_at_in_the_composer_offers_the_workspace_files_and_tab_takes_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(API_KEY_ENV, "k")
    with scripted({"turns": [], "fallback": [{"type": "message", "text": "hi"}]}) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_repo(tmp_path / "project")
        app = live_app(home, work)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.thread is not None, "the open session")
            # The listing starts with the session, in the background.
            await until(pilot, lambda: app.files.ready, "the workspace's files")
            await pilot.press(*"look", "space", *"at", "space", "@", *"compos")
            popup = app.query_one("#popup", OptionList)

            def offered() -> list[str]:
                return [str(popup.get_option_at_index(i).prompt)
                        for i in range(popup.option_count)] if popup.display else []

            await until(pilot, lambda: "src/app/composer.py" in offered(), "the popup")
            assert offered() == rank("compos", workspace_files(work))
            assert "build/composer.o" not in offered()
            await pilot.press("e")
            await until(pilot, lambda: offered() == ["src/app/composer.py"],
                        "the narrowed popup")
            await pilot.press("tab")
            await until(pilot, lambda: app.composer.text == "look at src/app/composer.py ",
                        f"the path in the prompt ({app.composer.text!r})")
            assert not popup.display
            await pilot.press("ctrl+c", "ctrl+c", "ctrl+c")


@pytest.mark.asyncio
async def test_outside_a_repository_the_files_are_listed_at_the_first_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(API_KEY_ENV, "k")
    with scripted({"turns": [], "fallback": [{"type": "message", "text": "hi"}]}) as model:
        home = make_home(tmp_path, model.base_url)
        work = tmp_path / "plain"
        (work / ".hidden").mkdir(parents=True)
        (work / ".hidden" / "secret.txt").write_text("x")
        (work / "notes.txt").write_text("x")
        app = live_app(home, work)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.thread is not None, "the open session")
            await pilot.pause(0.2)
            assert not app.files.ready  # not walked unless asked
            await pilot.press("@", "t")  # secret.txt would match too
            popup = app.query_one("#popup", OptionList)
            await until(pilot, lambda: popup.display and popup.option_count == 1
                        and str(popup.get_option_at_index(0).prompt) == "notes.txt",
                        "the walked files in the popup")
            await pilot.press("ctrl+c", "ctrl+c", "ctrl+c")
