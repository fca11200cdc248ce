"""The real ``llmx`` in a real terminal (tmux): a whole session, its resume, and its
rollout read by Codex 0.169."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from e2e.exec_harness import needs_sandbox
from interop.codex_cli import needs_codex, run_codex
from support.model_server import scripted
from support.tmux import Tmux, needs_tmux
from tui.live_harness import API_KEY_ENV, make_home, make_workspace, rollout_lines, submissions

pytestmark = [needs_tmux, needs_sandbox]

SCRIPT = {"turns": [
    {"items": [{"type": "shell", "command": "echo made > made.txt"}]},
    {"items": [{"type": "message", "text": "Made the file."}]},
], "fallback": [{"type": "message", "text": "Still here."}]}


def terminal_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/"),
        "TERM": "screen-256color", "LANG": "C.UTF-8", "LLMX_HOME": str(home),
        API_KEY_ENV: "k",
    }


def transcript_part(screen: str) -> list[str]:
    """The rows above the status line (the status and hint rows are the last two)."""
    rows = screen.rstrip("\n").split("\n")
    return [row.rstrip() for row in rows[:-2]]


def run_session(home: Path, work: Path) -> tuple[list[str], int, str]:
    llmx = [sys.executable, "-m", "llmx", "-a", "untrusted", "-s", "workspace-write"]
    with Tmux(llmx, env=terminal_env(home), cwd=work) as term:
        term.expect("mock-model ·")
        term.type("make the file")
        term.send("Enter")
        term.expect("Would you like to run the following command?")
        term.send("y")
        term.expect("Made the file.")
        shown = term.expect("─ Worked for")
        term.send("C-c")
        term.expect("press ctrl+c again to quit")
        term.send("C-c")
        status = term.exit_status()
        return transcript_part(shown), status, term.scrollback()


def test_a_whole_session_in_a_terminal_then_resume_last_shows_it_again(tmp_path: Path) -> None:
    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        shown, status, left = run_session(home, work)
        assert status == 0
        # What Codex prints at the end: the usage, and the command that comes back.
        [thread_id] = {path.stem[-36:] for path in home.glob("sessions/*/*/*/rollout-*")}
        printed = left.split("Pane is dead")[0].rstrip().splitlines()  # tmux's own last line
        tail = [row.rstrip() for row in printed[-3:]]
        assert tail[0].startswith("Token usage: total="), left
        assert tail[1:] == ["To continue this session, run:", f"  llmx resume {thread_id}"], left
        assert (work / "made.txt").read_text() == "made\n"
        [rollout] = list(home.glob("sessions/*/*/*/rollout-*.jsonl"))
        with Tmux([sys.executable, "-m", "llmx", "resume", "--last"],
                  env=terminal_env(home), cwd=work) as term:
            term.expect("─ Worked for")
            # The transcript shows while the session is being resumed; compared once
            # it is open (the "Resuming the session…" line gone).
            resumed = transcript_part(term.expect_gone("Resuming the session"))
            term.send("C-c")
            term.send("C-c")
            assert term.exit_status() == 0
    assert resumed == shown, "\n".join(shown) + "\n=====\n" + "\n".join(resumed)
    assert any("Made the file." in row for row in shown)
    # The rollout holds the request and the decision, and who decided.
    [request] = [line["payload"] for line in rollout_lines(rollout)
                 if line["payload"].get("type") == "exec_approval_request"]
    [decision] = [s for s in submissions(rollout) if s["op"]["type"] == "exec_approval"]
    assert decision["op"]["id"] == request["call_id"]
    assert decision["op"]["decision"] == "approved"
    assert decision["decided_by"] == "user"
    meta = rollout_lines(rollout)[0]["payload"]
    assert (meta["originator"], meta["source"]) == ("llmx_tui", "cli")


@needs_codex
def test_codex_resumes_the_rollout_a_terminal_session_wrote(tmp_path: Path) -> None:
    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        _, status, _ = run_session(home, work)
        assert status == 0
        [rollout] = list(home.glob("sessions/*/*/*/rollout-*.jsonl"))
        thread_id = rollout_lines(rollout)[0]["payload"]["id"]
        before = len(rollout_lines(rollout))
        result = run_codex("exec", "resume", thread_id, "are you there", home=home, cwd=work,
                           env={**os.environ, API_KEY_ENV: "k"})
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith("Still here.")
        # Codex sent the whole conversation: the approved command and its output.
        last = model.model_requests()[-1].body
        sent = json.dumps(last["input"])
        assert "make the file" in sent
        assert "echo made > made.txt" in sent
    assert len(rollout_lines(rollout)) > before
