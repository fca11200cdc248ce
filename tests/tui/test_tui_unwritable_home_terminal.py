"""The real ``llmx`` in a real terminal (tmux) on a home it cannot write to: the first
prompt's failure is one line on the screen, the prompt stays in the composer, and
leaving says the error once more on the terminal, with exit status 1. No traceback
reaches the terminal, at any point."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from support.model_server import scripted
from support.mounts import read_only
from support.tmux import Tmux, needs_tmux
from tui.live_harness import API_KEY_ENV, make_home, make_workspace

pytestmark = [needs_tmux]

SCRIPT = {"turns": [], "fallback": [{"type": "message", "text": "Answered."}]}


@contextmanager
def sessions_a_file(home: Path) -> Iterator[None]:
    (home / "sessions").write_text("not a folder")
    yield


def terminal_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/"),
        "TERM": "screen-256color", "LANG": "C.UTF-8", "LLMX_HOME": str(home),
        API_KEY_ENV: "k",
    }


BROKEN: dict[str, tuple[Callable[[Path], AbstractContextManager[None]], str]] = {
    "sessions is a file": (sessions_a_file, "cannot use {home}/sessions: a part of the path "
                           "is a file where a folder is expected — move that file out of "
                           "the way"),
    "read-only home": (read_only, "cannot write {home}/sessions: the file system is "
                       "read-only — make it writable, or point LLMX_HOME at a writable "
                       "folder"),
}


@pytest.mark.parametrize("broken", list(BROKEN))
def test_the_first_prompt_on_an_unwritable_home_in_a_terminal(tmp_path: Path,
                                                              broken: str) -> None:
    breaking, error = BROKEN[broken]
    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        error = error.format(home=home)
        with breaking(home), Tmux([sys.executable, "-m", "llmx"], env=terminal_env(home),
                                  cwd=work) as term:
            term.expect("mock-model ·")
            term.type("hello there")
            term.send("Enter")
            screen = term.expect("it is back in the composer")
            assert "Working" not in screen
            # The app wraps it to the screen's width.
            assert " ".join(error.split()) in " ".join(screen.split())
            # The composer holds the prompt (its row is above the status line).
            rows = [row.strip() for row in screen.rstrip("\n").split("\n")]
            assert "hello there" in rows[-3]
            term.send("C-c")  # clears the composer
            term.expect_gone("hello there")
            term.send("C-c")
            term.expect("press ctrl+c again to quit")
            term.send("C-c")
            assert term.exit_status() == 1, term.printed()
            printed = term.printed()
    assert f"llmx: {error}" in printed.split("\n")
    assert "Traceback" not in printed
    assert "Error:" not in printed  # no exception's name either
