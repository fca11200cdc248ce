"""The audit fold: corrupt lines, forks, llmx's recorded approvals, inference, filters."""

from __future__ import annotations

import json
from pathlib import Path

from projections.rollout_builder import RolloutBuilder, install_rich_sessions
from support import CODEX_RICH_FIXTURES

from llmx.projections.audit.fold import audit_rollout
from llmx.projections.audit.model import (
    AuditFilter,
    CommandStatus,
    Decider,
    Decision,
    Provenance,
    filter_report,
)
from llmx.projections.audit.render import render_text

RICH = CODEX_RICH_FIXTURES / "rollouts"


def test_corrupt_lines_are_reported_by_number_and_skipped(tmp_path: Path) -> None:
    source = RICH / "approval_untrusted_decline.rollout.jsonl"
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(4, "{broken json\n")
    copy = tmp_path / "copy.jsonl"
    copy.write_text("".join(lines) + '{"torn": ', encoding="utf-8")
    report = audit_rollout(copy)
    assert [(s.line, s.source) for s in report.skipped_lines] == [
        (5, "copy.jsonl"), (len(lines) + 1, "copy.jsonl")
    ]
    assert report.torn_tail
    original = audit_rollout(source)
    assert [t.prompt for t in report.turns] == [t.prompt for t in original.turns]
    assert len(report.turns[0].commands) == len(original.turns[0].commands)


def test_fork_audit_includes_inherited_turns(tmp_path: Path) -> None:
    placed = install_rich_sessions(
        tmp_path, "fork_and_revert__original", "fork_and_revert__full_fork"
    )
    report = audit_rollout(placed["fork_and_revert__full_fork"])
    assert report.lineage_error is None
    assert [(t.prompt, t.inherited) for t in report.turns] == [
        ("turn one: write one.txt", True), ("turn two", True), ("turn three", True),
        ("hello in the full fork", False),
    ]
    assert report.thread_id == "01a1fc96-c049-7173-b982-c45872c93136"
    assert report.turns[0].commands[0].command == "echo one > one.txt"


def test_fork_without_its_parent_reports_the_lineage_problem() -> None:
    report = audit_rollout(RICH / "fork_and_revert__full_fork.rollout.jsonl")
    assert report.lineage_error is not None
    assert "01a1fc96-be8b-7441-95b1-9a5c3369fe94" in report.lineage_error
    assert [t.prompt for t in report.turns] == ["hello in the full fork"]


def test_inferred_escalation_decline() -> None:
    report = audit_rollout(RICH / "readonly_denied_then_escalate_decline.rollout.jsonl")
    turn = report.turns[0]
    first, second = turn.commands
    assert (first.status, first.denied_by, first.escalated) == (
        CommandStatus.FAILED, "sandbox", False
    )
    assert (second.status, second.denied_by, second.escalated) == (
        CommandStatus.DECLINED, "user", True
    )
    (approval,) = turn.approvals
    assert (approval.decision, approval.decider, approval.provenance) == (
        Decision.DENIED, Decider.USER, Provenance.INFERRED
    )
    assert turn.escalations[0].justification is not None


def test_session_approval_covers_the_next_turn() -> None:
    report = audit_rollout(RICH / "approval_untrusted_acceptForSession.rollout.jsonl")
    deciders = [a.decider for turn in report.turns for a in turn.approvals]
    assert deciders == [Decider.USER, Decider.SESSION, Decider.SESSION]


def test_recorded_llmx_approvals_and_escalations(tmp_path: Path) -> None:
    builder = RolloutBuilder()
    builder.event("task_started", turn_id="t1")
    builder.add("turn_context", {"turn_id": "t1", "cwd": "/repo", "model": "m",
                                 "approval_policy": "on-request",
                                 "sandbox_policy": {"type": "workspace-write"}})
    builder.item({"type": "function_call", "name": "exec_command", "call_id": "c1",
                  "arguments": '{"cmd": "rm -rf build"}'})
    builder.event("exec_approval_request", call_id="c1", turn_id="t1",
                  command=["bash", "-lc", "rm -rf build"], cwd="/repo", reason="cleanup")
    builder.add("submission", {"id": "s1", "op": {"type": "exec_approval", "id": "c1",
                                                   "decision": "approved_for_session"}})
    builder.add("escalation", {"call_id": "c1", "mode": "unsandboxed", "approved_by": "user",
                               "command": ["bash", "-lc", "rm -rf build"],
                               "decision_submission_id": "s1"})
    builder.event("item_completed", turn_id="t1", item={
        "type": "CommandExecution", "id": "c1", "command": ["bash", "-lc", "rm -rf build"],
        "cwd": "/repo", "parsed_cmd": [], "source": "agent", "status": "completed",
        "exit_code": 0, "duration": {"secs": 1, "nanos": 500000000}})
    builder.item({"type": "function_call_output", "call_id": "c1", "output": "ok"})
    builder.event("task_complete", turn_id="t1")
    report = audit_rollout(builder.write(tmp_path / "r.jsonl"))
    turn = report.turns[0]
    (approval,) = turn.approvals
    assert approval.provenance is Provenance.RECORDED
    assert approval.decision is Decision.APPROVED_FOR_SESSION
    assert approval.decider is Decider.USER
    assert approval.decided_at is not None
    (escalation,) = turn.escalations
    assert (escalation.provenance, escalation.mode) == (Provenance.RECORDED, "unsandboxed")
    (command,) = turn.commands
    assert command.sandboxed is False
    assert command.duration_seconds == 1.5


def test_filters_keep_only_what_was_asked() -> None:
    report = audit_rollout(RICH / "readonly_denied_then_escalate_decline.rollout.jsonl")
    denied = filter_report(report, AuditFilter(denied=True))
    assert [c.denied_by for c in denied.turns[0].commands] == ["sandbox", "user"]
    assert denied.turns_recorded is None  # the thread's one turn is shown
    commands = filter_report(report, AuditFilter(commands=True))
    assert commands.turns[0].approvals == []
    assert len(commands.turns[0].commands) == 2
    approvals = filter_report(report, AuditFilter(approvals=True))
    assert approvals.turns[0].commands == []
    assert len(approvals.turns[0].approvals) == 1
    clean = audit_rollout(RICH / "fork_and_revert__original.rollout.jsonl")
    nothing_denied = filter_report(clean, AuditFilter(denied=True))
    assert nothing_denied.turns == []
    # The header still says how many turns the thread has.
    assert nothing_denied.turns_recorded == len(clean.turns) > 0
    assert nothing_denied.to_json()["turns_recorded"] == len(clean.turns)
    assert "turns_recorded" not in report.to_json()
    assert f"turns           0 of {len(clean.turns)} shown" in (
        render_text(nothing_denied, width=120)
    )


def test_legacy_end_events_are_read_like_turn_items(tmp_path: Path) -> None:
    lines = [
        {"timestamp": "t0", "type": "session_meta", "payload": {"id": "legacy-thread",
                                                                "cwd": "/repo"}},
        {"timestamp": "t1", "type": "turn_context", "payload": {
            "cwd": "/repo", "approval_policy": "on-request", "model": "gpt-5",
            "sandbox_policy": {"type": "workspace-write"}, "summary": "auto"}},
        {"timestamp": "t2", "type": "event_msg", "payload": {
            "type": "user_message", "message": "fix it", "local_images": []}},
        {"timestamp": "t3", "type": "event_msg", "payload": {
            "type": "exec_command_end", "call_id": "c1", "command": ["bash", "-lc", "make"],
            "cwd": "/repo", "exit_code": 2, "duration": {"secs": 3, "nanos": 0},
            "stdout": "", "stderr": "", "aggregated_output": "error"}},
        {"timestamp": "t4", "type": "event_msg", "payload": {
            "type": "patch_apply_end", "call_id": "p1", "success": True, "stdout": "",
            "stderr": "", "changes": {"/repo/a.py": {"type": "add", "content": "x"}}}},
        {"timestamp": "t5", "type": "event_msg", "payload": {
            "type": "mcp_tool_call_end", "call_id": "m1",
            "invocation": {"server": "calc", "tool": "add", "arguments": {"a": 1}},
            "duration": {"secs": 0, "nanos": 5}, "result": {"Err": "boom"}}},
    ]
    path = tmp_path / "legacy.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    report = audit_rollout(path)
    (turn,) = report.turns
    assert turn.prompt == "fix it"
    assert turn.settings.model == "gpt-5"
    (command,) = turn.commands
    assert (command.argv, command.exit_code, command.status) == (
        ["bash", "-lc", "make"], 2, CommandStatus.FAILED
    )
    assert command.duration_seconds == 3.0
    assert [(c.path, c.kind, c.status) for c in turn.file_changes] == [
        ("/repo/a.py", "add", "completed")
    ]
    (mcp,) = turn.mcp_calls
    assert (mcp.server, mcp.tool, mcp.status, mcp.error) == ("calc", "add", "failed", "boom")
