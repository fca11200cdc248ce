"""The real ``llmx`` in tmux: Shift+Tab puts the next turn in Plan mode, the model's
questions (``request_user_input``) are put to the user, and the answer goes to the log,
as the user's, before the model reads it (Codex 0.169's TUI does the same with the same
script, ``fixtures/codex-plan``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from support.app_server_schema import FIXTURES
from support.model_server import scripted
from support.tmux import Tmux, needs_tmux
from tui.live_harness import make_home, make_workspace, rollout_lines, submissions
from tui.test_tui_terminal import terminal_env

pytestmark = [needs_tmux]
SCRIPT = json.loads((FIXTURES / "codex-plan" / "request_user_input.mock-script.json")
                    .read_text())


def test_plan_mode_questions_are_asked_in_the_terminal(tmp_path: Path) -> None:
    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        with Tmux([sys.executable, "-m", "llmx"], env=terminal_env(home), cwd=work) as term:
            term.expect("mock-model ·")
            term.send("BTab")
            term.expect("Plan mode (shift+tab to cycle)")
            term.type("which database?")
            term.send("Enter")
            asked = term.expect("None of the above")
            term.send("2")
            term.expect("SQLite it is.")
            shown = term.expect("answer: SQLite")
            # Back to Default for the next prompt.
            term.send("BTab")
            term.expect_gone("Plan mode (shift+tab to cycle)")
            term.type("go on")
            term.send("Enter")
            term.expect("• hi")
            term.send("C-c")
            term.expect("press ctrl+c again to quit")
            term.send("C-c")
            assert term.exit_status() == 0
        bodies = [request.body for request in model.model_requests()]
    for shown_text in ("Question 1/1", "Which database should I use?",
                       "1. Postgres (Recommended)", "2. SQLite", "None of the above"):
        assert shown_text in asked
    assert "Questions 1/1 answered" in shown
    [output] = [item["output"] for item in bodies[1]["input"]
                if item.get("type") == "function_call_output"]
    assert output == '{"answers":{"db_choice":{"answers":["SQLite"]}}}'
    [rollout] = list(home.glob("sessions/*/*/*/rollout-*.jsonl"))
    [answer] = [s for s in submissions(rollout) if s["op"]["type"] == "user_input_answer"]
    assert answer["decided_by"] == "user"
    modes = [line["payload"]["collaboration_mode"]["mode"] for line in rollout_lines(rollout)
             if line["type"] == "turn_context"]
    assert modes == ["plan", "default"]
