"""``llmx exec`` on a terminal asks whoever is there, as Codex's interactive prompt does:
approve once, approve for the session, deny, or abort the turn; each answer is recorded
as the user's."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from e2e.exec_harness import PATCHING_MODEL, ExecEnv, completed_items, make_env, rollout_lines
from support.model_scripts import Script
from support.model_server import ModelServer
from support.terminal import Terminal, strip_ansi

from llmx.cli.exec_approvals import ask_on_terminal
from llmx.events.event_msgs import ExecApprovalRequest
from llmx.events.ops import ReviewDecision
from llmx.events.records import Approver

_QUESTION = "[esc] no, and stop the turn: "
_CHOICES = "[y] yes, once   [a] yes, and don't ask again this session   [n] no   " + _QUESTION


def _escalated(command: str) -> dict[str, Any]:
    return {"type": "shell", "command": command, "sandbox_permissions": "require_escalated",
            "justification": f"Run {command}?"}


def _exec_on_terminal(env: ExecEnv, *args: str, capture_stdout: bool = False) -> Terminal:
    return Terminal([sys.executable, "-m", "llmx", "exec", *args], env=env.env(),
                    cwd=env.workspace, capture_stdout=capture_stdout)


def _payloads(rollout: Path, kind: str) -> list[dict[str, Any]]:
    return [line["payload"] for line in rollout_lines(rollout) if line["type"] == kind]


def test_exec_asks_on_a_terminal_and_records_the_answers(tmp_path: Path) -> None:
    patch = "*** Begin Patch\n*** Add File: added.txt\n+hello\n*** End Patch"
    script = {"turns": [
        [_escalated("echo one > one.txt")],
        [_escalated("echo one > one.txt")],
        [_escalated("echo two > two.txt")],
        [{"type": "custom_tool_call", "name": "apply_patch", "input": patch}],
        [{"type": "message", "text": "Done."}],
    ]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url, model=PATCHING_MODEL)
        with _exec_on_terminal(env, "-s", "read-only", "-a", "on-request", "go") as terminal:
            terminal.expect(_QUESTION)
            screen = strip_ansi(terminal.screen)
            # What would run, where, and why, before the question.
            assert "approval requested: command\n" in screen
            assert f"/bin/bash -lc 'echo one > one.txt' in {env.workspace}\n" in screen
            assert "reason: Run echo one > one.txt?\n" in screen
            assert "Would you like to run the following command?\n[y] yes, once" in screen
            terminal.type("a")  # for the session: the second, identical call is not asked
            terminal.expect("approved earlier for this session")
            terminal.expect("reason: Run echo two > two.txt?\nWould you like to run the "
                            f"following command?\n{_CHOICES}")
            terminal.type("n")
            terminal.expect(f"Would you like to make the following edits?\n{_CHOICES}")
            assert f"approval requested: patch\n{env.workspace}/added.txt\n" in strip_ansi(
                terminal.screen)
            terminal.type("y")
            status = terminal.finish()
            screen = strip_ansi(terminal.screen)
    assert status == 0, screen
    assert (env.workspace / "one.txt").read_text() == "one\n"
    assert not (env.workspace / "two.txt").exists()
    assert (env.workspace / "added.txt").read_text() == "hello\n"
    # Each key is read unechoed, and the answer said in words after the question.
    assert screen.count(f"{_CHOICES}approved for this session\n") == 1
    assert screen.count(f"{_CHOICES}denied\n") == 1
    assert screen.count(f"{_CHOICES}approved once\n") == 1
    [rollout] = env.rollouts()
    answers = [s for s in _payloads(rollout, "submission")
               if s["op"]["type"] in ("exec_approval", "patch_approval")]
    assert [(s["op"]["decision"], s["decided_by"]) for s in answers] == [
        ("approved_for_session", "user"), ("denied", "user"), ("approved", "user")]
    assert [(d["subject"], d["decision"], d["decided_by"]) for d in _payloads(rollout, "decision")
            ] == [("command", "approved_for_session", "user"), ("command", "approved", "session"),
                  ("command", "denied", "user"), ("patch", "approved", "user")]
    assert [e["approved_by"] for e in _payloads(rollout, "escalation")] == ["user", "session"]
    assert [c["status"] for c in completed_items(rollout, "CommandExecution")] == [
        "completed", "completed", "declined"]
    assert "nobody can be asked" not in screen


def test_escape_aborts_the_turn(tmp_path: Path) -> None:
    script = {"turns": [[_escalated("echo one > one.txt")],
                        [{"type": "message", "text": "never sent"}]]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        with _exec_on_terminal(env, "-s", "read-only", "-a", "on-request", "go") as terminal:
            terminal.expect(_QUESTION)
            terminal.type("\x1b")
            status = terminal.finish()
            screen = strip_ansi(terminal.screen)
        requests = server.model_requests()
    assert status == 1, screen
    assert "denied; stopping the turn\n" in screen
    assert "turn interrupted" in screen
    assert len(requests) == 1
    [rollout] = env.rollouts()
    [answer] = [s for s in _payloads(rollout, "submission") if s["op"]["type"] == "exec_approval"]
    assert (answer["op"]["decision"], answer["decided_by"]) == ("abort", "user")
    assert [p["type"] for p in _payloads(rollout, "event_msg")][-1] == "turn_aborted"


def test_ctrl_c_at_the_question_interrupts_the_turn_and_withdraws_it(tmp_path: Path) -> None:
    script = {"turns": [[_escalated("echo one > one.txt")],
                        [{"type": "message", "text": "never sent"}]]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        with _exec_on_terminal(env, "-s", "read-only", "-a", "on-request", "go") as terminal:
            terminal.expect(_QUESTION)
            terminal.type("\x03")  # the terminal's ^C: SIGINT to exec
            status = terminal.finish()
            screen = strip_ansi(terminal.screen)
    assert status == 1, screen
    assert f"{_CHOICES}(withdrawn)\n" in screen
    assert "turn interrupted" in screen
    assert not (env.workspace / "one.txt").exists()
    [rollout] = env.rollouts()
    # Nobody answered: no decision is on record, only the interrupt.
    ops = [s["op"]["type"] for s in _payloads(rollout, "submission")]
    assert "exec_approval" not in ops
    assert "interrupt" in ops
    assert _payloads(rollout, "decision") == []


def test_json_mode_shows_the_request_with_the_question(tmp_path: Path) -> None:
    script = {"turns": [[_escalated("echo one > one.txt")],
                        [{"type": "message", "text": "Done."}]]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        with _exec_on_terminal(env, "--json", "-s", "read-only", "-a", "on-request", "go",
                               capture_stdout=True) as terminal:
            terminal.expect(_QUESTION)
            screen = strip_ansi(terminal.screen)
            # stdout carries the JSON events, so the question itself says what is asked.
            assert "  reason: Run echo one > one.txt?\n" in screen
            assert "  $ /bin/bash -lc 'echo one > one.txt'\n" in screen
            assert f"  in {env.workspace}\n" in screen
            terminal.type("y")
            status = terminal.finish()
            stdout = terminal.stdout()
    assert status == 0
    events = [json.loads(line) for line in stdout.splitlines()]
    [command] = [e["item"] for e in events if e["type"] == "item.completed"
                 and e["item"]["type"] == "command_execution"]
    assert (command["status"], command["exit_code"]) == ("completed", 0)


def test_a_terminal_that_cannot_be_read_denies_instead_of_waiting() -> None:
    request = ExecApprovalRequest(call_id="c1", turn_id="t1", command=["true"], cwd="/",
                                  parsed_cmd=[])
    shown = io.StringIO()
    read_end, write_end = os.pipe()  # not a terminal: its modes cannot be set
    try:
        answer = asyncio.run(asyncio.wait_for(
            ask_on_terminal(request, show_request=False, stdin_fd=read_end, out=shown), 10))
    finally:
        os.close(read_end)
        os.close(write_end)
    assert answer == (ReviewDecision.DENIED, Approver.UNATTENDED)
    assert shown.getvalue().startswith("(the terminal cannot be read: ")
