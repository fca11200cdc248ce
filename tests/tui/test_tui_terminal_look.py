"""The real ``llmx`` in a real terminal (tmux): without colour under ``NO_COLOR``, redrawn
whole when the terminal is resized while the model streams, the mouse left to the
terminal, and inline (``--no-alt-screen``) with its transcript left in the scrollback."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from e2e.exec_harness import PATCHING_MODEL, needs_sandbox
from support.model_server import scripted
from support.tmux import Tmux, needs_tmux
from tui.live_harness import make_home, make_workspace
from tui.test_tui_terminal import terminal_env, transcript_part

pytestmark = [needs_tmux]

LLMX = [sys.executable, "-m", "llmx"]
PATCH = "*** Begin Patch\n*** Add File: notes.txt\n+first line\n+second line\n*** End Patch"
_SGR = re.compile(r"\x1b\[([0-9;:]*)m")


def colours(screen: str) -> list[str]:
    """The colour settings among the SGR sequences of ``screen`` (``capture-pane -e``):
    foreground and background, basic, bright, 256 or RGB. Defaults (39, 49) and
    attributes (bold, dim, reverse...) are not colours."""
    found = []
    for sequence in _SGR.findall(screen):
        params = [part for part in re.split("[;:]", sequence) if part]
        index = 0
        while index < len(params):
            code = int(params[index])
            if code in (38, 48, 58):
                found.append(";".join(params[index:index + 3]))
                index += 5 if params[index + 1:index + 2] == ["2"] else 3
                continue
            if 30 <= code <= 37 or 40 <= code <= 47 or 90 <= code <= 97 or 100 <= code <= 107:
                found.append(str(code))
            index += 1
    return found



@needs_sandbox
@pytest.mark.parametrize("no_color", [True, False], ids=["NO_COLOR", "colour"])
def test_no_color_draws_no_colour_in_a_whole_session(tmp_path: Path, no_color: bool) -> None:
    # A command to approve (the dialog), a patch (a coloured diff when colour is on),
    # an answer; every screen read with its escape sequences.
    script = {"turns": [
        {"items": [{"type": "shell", "command": "echo made > made.txt"}]},
        {"items": [{"type": "custom_tool_call", "name": "apply_patch", "input": PATCH}]},
        {"items": [{"type": "message", "text": "Made the file and the notes."}]},
    ], "fallback": [{"type": "message", "text": "Nothing more."}]}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        env = terminal_env(home)
        if no_color:
            env["NO_COLOR"] = "1"
        screens = []
        # A model Codex's catalog offers apply_patch to.
        with Tmux([*LLMX, "-m", PATCHING_MODEL, "-a", "untrusted", "-s", "workspace-write"],
                  env=env, cwd=work) as term:
            term.expect(f"{PATCHING_MODEL} ·")
            term.type("make the file")
            term.send("Enter")
            term.expect("Would you like to run the following command?")
            screens.append(term.screen_with_escapes())
            term.send("y")
            term.expect("Would you like to make the following edits?")
            screens.append(term.screen_with_escapes())
            term.send("y")
            term.expect("Made the file and the notes.")
            screens.append(term.screen_with_escapes())
            term.send("C-c")
            term.send("C-c")
            assert term.exit_status() == 0
    assert (work / "notes.txt").read_text() == "first line\nsecond line\n"
    shown = [_SGR.sub("", screen) for screen in screens]
    assert "+first line" in shown[2], shown[2]
    if no_color:
        assert [colours(screen) for screen in screens] == [[], [], []]
        # The highlighted answer of the dialog is marked without colour.
        assert "› 1. Yes, proceed (y)" in shown[0]
        assert "  2. Yes, and don't ask again" in shown[0]
    else:
        # The check sees colour where there is some: the diff's added lines.
        assert all(colours(screen) for screen in screens)


def test_a_terminal_resized_while_the_model_streams_redraws_everything(
    tmp_path: Path,
) -> None:
    # Lines longer than either width, and about six seconds of streaming.
    lines = [" ".join(f"l{line}w{word}" for word in range(14)) for line in range(90)]
    script = {"turns": [], "fallback": {"items": [{"type": "message", "text": "\n".join(lines)}],
                                        "chunk_delay": 0.005}}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        env = terminal_env(home)
        with Tmux(LLMX, env=env, cwd=work, columns=100, rows=30) as term:
            term.expect("mock-model ·")
            term.type("stream it")
            term.send("Enter")
            term.expect("l20w0 ")
            # Full screen, and the mouse is the terminal's (no mouse reports asked for):
            # its own selection and scrolling keep working.
            assert term.pane_format("alternate_on") == "1"
            assert term.pane_format("mouse_any_flag") == "0"
            term.resize(50, 20)
            term.expect("l89w13")
            term.expect_gone("Working")
            narrow = term.settled()
            term.resize(120, 30)
            wide = term.settled()
            term.send("C-c")
            term.send("C-c")
            assert term.exit_status() == 0
        # What the file folds to, drawn at each size by a resumed session.
        resumed = {}
        for columns, rows in ((50, 20), (120, 30)):
            with Tmux([*LLMX, "resume", "--last"], env=env, cwd=work, columns=columns,
                      rows=rows) as term:
                term.expect("l89w13")
                resumed[columns] = term.expect_gone("Resuming the session")
                term.send("C-c")
                term.send("C-c")
                assert term.exit_status() == 0
    assert max(len(row.rstrip()) for row in narrow.split("\n")) <= 50
    assert any(len(row.rstrip()) > 50 for row in wide.split("\n"))
    assert transcript_part(narrow) == transcript_part(resumed[50])
    assert transcript_part(wide) == transcript_part(resumed[120])


def test_inline_mode_leaves_the_transcript_in_the_scrollback(tmp_path: Path) -> None:
    script = {"turns": [], "fallback": [{"type": "message", "text": "Hello from inline."}]}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        with Tmux([*LLMX, "--no-alt-screen"], env=terminal_env(home), cwd=work) as term:
            term.expect("mock-model ·")
            # Drawn in the terminal's own screen, under what was there.
            assert term.pane_format("alternate_on") == "0"
            assert term.pane_format("mouse_any_flag") == "0"
            term.type("say hello")
            term.send("Enter")
            term.expect("Hello from inline.")
            term.expect_gone("Working")
            term.send("C-c")
            term.send("C-c")
            assert term.exit_status() == 0
            kept = [row.rstrip() for row in term.scrollback().split("\n")]
    # After the app has gone, the terminal keeps the transcript, in order.
    assert "› say hello" in kept
    assert "• Hello from inline." in kept
    assert kept.index("› say hello") < kept.index("• Hello from inline.")


_WORD = re.compile(r"l(\d+)w(\d+)")


def test_a_streamed_answer_shows_every_word_it_has_so_far_in_order(tmp_path: Path) -> None:
    # Each frame redraws only the rows that changed (of a growing answer, its last line):
    # when the model stops in the middle of a line, the screen shows the answer up to
    # its last word, every line whole and in order; keys typed while it streamed show in
    # the composer. Then the answer ends, and the file holds every delta in order.
    lines = [" ".join(f"l{line}w{word}" for word in range(12)) for line in range(40)]
    answer = "\n".join(lines)
    script = {"turns": [], "fallback": {
        "items": [{"type": "message", "text": answer}], "chunk_delay": 0.005,
        "pause_after": "l20w5 ", "pause": 5.0}}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        with Tmux(LLMX, env=terminal_env(home), cwd=work, columns=100, rows=30) as term:
            term.expect("mock-model ·")
            term.type("stream it")
            term.send("Enter")
            term.expect("l3w0 ")
            term.type("abc")
            term.expect("l20w5")
            paused = term.settled()
            term.expect("l39w11")
            term.expect_gone("Working")
            ended = term.settled()
            term.send("BSpace", "BSpace", "BSpace")
            term.expect_gone("abc")
            term.send("C-c")
            term.send("C-c")
            assert term.exit_status() == 0
    shown = [[(int(line), int(word)) for line, word in _WORD.findall(row)]
             for row in transcript_part(paused)]
    shown = [row for row in shown if row]
    # The rows of the answer on screen: whole lines one after the other, the last one
    # up to the word the model stopped after.
    first = shown[0][0][0]
    assert shown[:-1] == [[(line, word) for word in range(12)]
                          for line in range(first, first + len(shown) - 1)], paused
    assert shown[-1] == [(20, word) for word in range(6)], paused
    assert paused.rstrip("\n").split("\n")[-3].strip() == "abc", paused
    last_rows = [row for row in transcript_part(ended) if _WORD.search(row)]
    assert [row.strip() for row in last_rows[-3:]] == lines[-3:], ended
    [rollout] = list((home / "sessions").rglob("rollout-*.jsonl"))
    said = ["".join(part["text"] for part in line["payload"]["content"])
            for line in map(json.loads, rollout.read_text().splitlines())
            if line["type"] == "response_item" and line["payload"].get("role") == "assistant"]
    assert said == [answer]
