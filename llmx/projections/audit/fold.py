"""The audit fold: what happened in each turn of a session, and on whose authority.

Reads both representations Codex writes: paginated ``item_completed`` turn items
(0.147+) and the legacy ``exec_command_end`` / ``patch_apply_end`` / ``mcp_tool_call_end``
events, plus llmx's explicit approval requests, ``submission`` decisions and
``escalation`` lines. Where the log holds no record of an approval (every Codex 0.169
rollout), it is inferred from outcomes and labelled so (see ``rules``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from msgspec import UNSET

from llmx.events.lines import LineError, decode_line
from llmx.events.nesting import nesting_problem
from llmx.events.ops import ExecApproval, PatchApproval, ResolveElicitation
from llmx.events.raw_lines import file_size
from llmx.events.records import (
    DecisionRecord,
    EscalationRecord,
    SandboxDenialRecord,
    SubmissionRecord,
)
from llmx.projections.audit.model import (
    ApprovalAudit,
    AuditReport,
    Decider,
    Decision,
    ErrorAudit,
    EscalationAudit,
    Provenance,
    SkippedLineAudit,
    TurnAudit,
)
from llmx.projections.audit.rules import TurnCalls, derive_turn, settings_from
from llmx.projections.fold_lines import Record, RecordKind, record_of
from llmx.projections.lineage import LineageError, RolloutSpan, lines_forward, resolve_lineage
from llmx.projections.resume import read_session_meta
from llmx.projections.turn_programs import Program, TurnWriters, program_of
from llmx.projections.turns import is_contextual_user_text, message_text

# A ``ReviewDecision`` value as the report's decision.
_DECISIONS = {
    "approved": Decision.APPROVED,
    "approved_for_session": Decision.APPROVED_FOR_SESSION,
    "denied": Decision.DENIED,
    "abort": Decision.ABORTED,
}
_CALL_TYPES = frozenset({"function_call", "custom_tool_call", "local_shell_call"})
_OUTPUT_TYPES = frozenset({"function_call_output", "custom_tool_call_output"})
_ERROR_EVENTS = frozenset({"error", "stream_error"})
# llmx asks for an MCP tool's approval with an elicitation whose id names the call.
_MCP_APPROVAL_PREFIX = "mcp_tool_call_approval_"
_MCP_QUESTION = re.compile(r'run tool "(.+)"\?$')
_ELICITATION_DECISIONS = {"accept": Decision.APPROVED, "decline": Decision.DENIED,
                          "cancel": Decision.ABORTED}
_SESSION_FIELDS = (
    "cwd", "originator", "cli_version", "source", "model_provider", "history_mode",
    "forked_from_id", "timestamp",
)


@dataclass(slots=True)
class _TurnState:
    audit: TurnAudit
    calls: TurnCalls = field(default_factory=TurnCalls)


class _AuditFold:
    def __init__(self) -> None:
        self.turns: list[_TurnState] = []
        self.by_turn_id: dict[str, _TurnState] = {}
        self.items: dict[str, tuple[dict[str, Any], int]] = {}
        self.requests: dict[str, ApprovalAudit] = {}
        self.recorded_escalations: dict[str, EscalationAudit] = {}
        # Who refused a call, as llmx recorded it (a ``decision`` line), by call id.
        self.refused_by: dict[str, str] = {}
        self.programs = TurnWriters()
        # The tool names of the last writer line, for the turn it opens.
        self._pending_tools: list[str] | None = None

    def current(self, span: RolloutSpan) -> _TurnState:
        if not self.turns:
            return self.start(span, None, None)
        return self.turns[-1]

    def start(self, span: RolloutSpan, turn_id: str | None, timestamp: str | None) -> _TurnState:
        audit = TurnAudit(
            index=len(self.turns) + 1, turn_id=turn_id, source=span.path.name,
            inherited=span.inherited, started_at=timestamp,
        )
        state = _TurnState(audit)
        self._attribute(audit, self.programs.for_implicit_turn())
        self.turns.append(state)
        if turn_id:
            self.by_turn_id[turn_id] = state
        return state

    @staticmethod
    def _attribute(audit: TurnAudit, program: Program) -> None:
        audit.program = program.title
        audit.recorded_by_llmx = program.product == "llmx"

    def turn_for(self, span: RolloutSpan, turn_id: Any) -> _TurnState:
        if isinstance(turn_id, str) and turn_id in self.by_turn_id:
            return self.by_turn_id[turn_id]
        return self.current(span)

    def feed(self, span: RolloutSpan, line: int, record: Record) -> None:
        kind = record.kind
        if kind is RecordKind.SESSION_META:
            self.programs.on_meta(_program(record.payload))
        elif kind is RecordKind.TURN_CONTEXT:
            self._turn_context(span, record)
        elif kind is RecordKind.RESPONSE_ITEM:
            self._response_item(span, line, record)
        elif kind is RecordKind.EVENT_MSG:
            self._event(span, line, record)
        elif record.type_name == "submission":
            self._submission(record)
        elif record.type_name == "escalation":
            self._escalation(line, record)
        elif record.type_name == "decision":
            self._decision(span, line, record)
        elif record.type_name == "sandbox_denial":
            self._sandbox_denial(span, line, record)
        elif record.type_name == "writer":
            self.programs.on_writer(_program(record.payload))
            tools = record.payload.get("tools")
            self._pending_tools = ([str(name) for name in tools]
                                   if isinstance(tools, list) else None)

    def _turn_context(self, span: RolloutSpan, record: Record) -> None:
        payload = record.payload
        turn_id = payload.get("turn_id")
        state = self.turns[-1] if self.turns else None
        opens_turn = state is None or (
            isinstance(turn_id, str) and state.audit.turn_id not in (None, turn_id)
        ) or (turn_id is None and state.audit.prompt is not None)
        if opens_turn or state is None:
            state = self.start(span, turn_id if isinstance(turn_id, str) else None,
                               record.timestamp)
        elif state.audit.turn_id is None and isinstance(turn_id, str):
            state.audit.turn_id = turn_id
            self.by_turn_id[turn_id] = state
        state.audit.settings = settings_from(payload)

    def _response_item(self, span: RolloutSpan, line: int, record: Record) -> None:
        item = record.payload
        kind = item.get("type")
        state = self.current(span)
        if kind in _CALL_TYPES:
            state.calls.add_call(item, line, record.timestamp)
        elif kind in _OUTPUT_TYPES:
            state.calls.add_output(item)
        elif kind == "message" and item.get("role") == "user" and state.audit.prompt is None:
            text = message_text(item)
            if text and not is_contextual_user_text(text):
                state.audit.prompt = text

    def _event(self, span: RolloutSpan, line: int, record: Record) -> None:
        payload = record.payload
        event = record.event_type
        if event in ("task_started", "turn_started"):
            turn_id = payload.get("turn_id")
            current = self.turns[-1] if self.turns else None
            program = self.programs.on_turn_started()
            tools, self._pending_tools = self._pending_tools, None
            if current is not None and current.audit.turn_id == turn_id and turn_id:
                self._attribute(current.audit, program)
                current.audit.tools = tools
                return
            state = self.start(
                span, turn_id if isinstance(turn_id, str) else None, record.timestamp
            )
            self._attribute(state.audit, program)
            state.audit.tools = tools
        elif event in ("task_complete", "turn_complete"):
            state = self.turn_for(span, payload.get("turn_id"))
            # A turn that ended on an error (Codex and llmx both put it in the event).
            failed = isinstance(payload.get("error"), dict)
            state.audit.status = "failed" if failed else "completed"
            state.audit.ended_at = record.timestamp
        elif event == "turn_aborted":
            state = self.turn_for(span, payload.get("turn_id"))
            state.audit.status = f"aborted ({payload.get('reason', 'unknown')})"
            state.audit.ended_at = record.timestamp
        elif event == "item_completed":
            self._item(span, line, payload)
        elif event == "user_message":
            state = self.current(span)
            if state.audit.prompt is None:
                state.audit.prompt = str(payload.get("message", ""))
        elif event in ("exec_command_end", "patch_apply_end", "mcp_tool_call_end"):
            state = self.turn_for(span, payload.get("turn_id"))
            call_id = str(payload.get("call_id", ""))
            self.items[call_id] = (dict(payload, type=event), line)
            state.calls.add_orphan_item(call_id)
        elif event == "patch_apply_begin" and payload.get("auto_approved"):
            self.current(span).calls.auto_approved.add(str(payload.get("call_id", "")))
        elif event == "token_count" and isinstance(payload.get("info"), dict):
            self.turn_for(span, payload.get("turn_id")).audit.token_usage = payload["info"]
        elif event in _ERROR_EVENTS:
            self.current(span).audit.errors.append(
                ErrorAudit(str(event), str(payload.get("message", "")), line)
            )
        elif event in ("exec_approval_request", "apply_patch_approval_request"):
            self._approval_request(span, line, record)
        elif event == "elicitation_request":
            self._elicitation_request(span, line, record)

    def _item(self, span: RolloutSpan, line: int, payload: dict[str, Any]) -> None:
        item = payload.get("item")
        if not isinstance(item, dict):
            return
        state = self.turn_for(span, payload.get("turn_id"))
        kind = item.get("type")
        if kind == "UserMessage":
            if state.audit.prompt is None:
                state.audit.prompt = "".join(
                    str(part.get("text", "")) for part in item.get("content") or ()
                    if isinstance(part, dict)
                )
        elif kind in ("CommandExecution", "FileChange", "McpToolCall"):
            item_id = str(item.get("id", ""))
            self.items[item_id] = (item, line)
            state.calls.add_orphan_item(item_id)
            approval = self.requests.get(item_id)
            if approval is not None and not approval.subject:
                # Decided before anything was asked (the policy): the item names it.
                command = item.get("command")
                approval.subject = (
                    " ".join(str(part) for part in command) if isinstance(command, list)
                    else ", ".join(sorted(item.get("changes") or {}))
                )

    def _approval_request(self, span: RolloutSpan, line: int, record: Record) -> None:
        payload = record.payload
        state = self.turn_for(span, payload.get("turn_id"))
        call_id = str(payload.get("call_id", ""))
        is_exec = record.event_type == "exec_approval_request"
        command = payload.get("command")
        subject = (
            " ".join(str(part) for part in command) if isinstance(command, list)
            else ", ".join(sorted(payload.get("changes") or {}))
        )
        approval = ApprovalAudit(
            call_id=call_id, kind="exec" if is_exec else "patch", subject=subject,
            decision=Decision.PENDING, decider=Decider.UNKNOWN,
            provenance=Provenance.RECORDED, reason=payload.get("reason"),
            requested_at=record.timestamp, decided_at=None, line=line,
        )
        state.audit.approvals.append(approval)
        state.calls.recorded_approvals.add(call_id)
        self.requests[str(payload.get("approval_id") or call_id)] = approval

    def _elicitation_request(self, span: RolloutSpan, line: int, record: Record) -> None:
        """An MCP tool's approval (llmx records the question and its answer)."""
        payload = record.payload
        request_id = str(payload.get("id", ""))
        if not request_id.startswith(_MCP_APPROVAL_PREFIX):
            return
        call_id = request_id.removeprefix(_MCP_APPROVAL_PREFIX)
        server = str(payload.get("server_name", ""))
        request = payload.get("request")
        message = payload.get("message") or (
            request.get("message") if isinstance(request, dict) else None)
        asked = _MCP_QUESTION.search(str(message or ""))
        state = self.turn_for(span, payload.get("turn_id"))
        approval = ApprovalAudit(
            call_id=call_id, kind="mcp",
            subject=f"{server}.{asked.group(1)}" if asked else server,
            decision=Decision.PENDING, decider=Decider.UNKNOWN,
            provenance=Provenance.RECORDED, reason=None,
            requested_at=record.timestamp, decided_at=None, line=line,
        )
        state.audit.approvals.append(approval)
        state.calls.recorded_approvals.add(call_id)
        self.requests[request_id] = approval

    def _submission(self, record: Record) -> None:
        submission = record.payload_as(SubmissionRecord)
        if submission is not None and isinstance(submission.op, ResolveElicitation):
            answered = self.requests.get(str(submission.op.request_id))
            if answered is not None:
                answered.decision = _ELICITATION_DECISIONS.get(submission.op.decision,
                                                               Decision.DENIED)
                answered.decider = (
                    Decider.USER if submission.decided_by is UNSET
                    else Decider.recorded(submission.decided_by)
                )
                answered.decided_at = record.timestamp
            return
        if submission is None or not isinstance(submission.op, ExecApproval | PatchApproval):
            return
        approval = self.requests.get(submission.op.id)
        if approval is None:
            return
        decision = submission.op.decision
        if decision == "approved_for_session":
            approval.decision = Decision.APPROVED_FOR_SESSION
        elif decision in ("denied", "abort"):
            approval.decision = Decision.DENIED if decision == "denied" else Decision.ABORTED
        else:  # "approved" and the object forms that approve with an amendment
            approval.decision = Decision.APPROVED
        approval.decider = (
            Decider.USER if submission.decided_by is UNSET
            else Decider.recorded(submission.decided_by)
        )
        approval.decided_at = record.timestamp

    def _sandbox_denial(self, span: RolloutSpan, line: int, record: Record) -> None:
        """llmx's ``sandbox_denial`` line: a command refused as it started, which has no
        item (as in Codex); it is audited as the failed command it was, on record."""
        denial = record.payload_as(SandboxDenialRecord)
        if denial is None:
            return
        item = {
            "type": "CommandExecution", "id": denial.call_id, "command": denial.command,
            "cwd": denial.cwd, "status": "failed", "exit_code": denial.exit_code,
            "duration": denial.duration_ms / 1000,
        }
        self.items[denial.call_id] = (item, line)
        self.turn_for(span, denial.turn_id or None).calls.add_orphan_item(denial.call_id)

    def _decision(self, span: RolloutSpan, line: int, record: Record) -> None:
        """llmx's ``decision`` line: how a question was settled, asked or not."""
        decision = record.payload_as(DecisionRecord)
        if decision is None:
            return
        decider = Decider.recorded(decision.decided_by)
        outcome = _DECISIONS.get(decision.decision, Decision.DENIED)
        if outcome in (Decision.DENIED, Decision.ABORTED):
            self.refused_by[decision.call_id] = decider.value
        asked = self.requests.get(decision.call_id)
        if decision.submission_id is not UNSET and asked is not None:
            # Answered: the submission said who; this says what the runtime made of it.
            asked.decision, asked.decider = outcome, decider
            return
        state = self.turn_for(span, decision.turn_id or None)
        approval = ApprovalAudit(
            call_id=decision.call_id, kind="exec" if decision.subject == "command" else "patch",
            subject="", decision=outcome, decider=decider, provenance=Provenance.RECORDED,
            reason=None if decision.reason is UNSET else decision.reason,
            requested_at=None, decided_at=record.timestamp, line=line,
        )
        state.audit.approvals.append(approval)
        state.calls.recorded_approvals.add(decision.call_id)
        self.requests[decision.call_id] = approval

    def _escalation(self, line: int, record: Record) -> None:
        escalation = record.payload_as(EscalationRecord)
        if escalation is None:
            return
        command = escalation.command
        reason = escalation.reason
        self.recorded_escalations[escalation.call_id] = EscalationAudit(
            call_id=escalation.call_id,
            command=" ".join(command) if isinstance(command, list) else "",
            justification=reason if isinstance(reason, str) else None, prefix_rule=None,
            outcome=Decision.APPROVED, mode=escalation.mode.value,
            approved_by=escalation.approved_by.value, provenance=Provenance.RECORDED, line=line,
        )

    def finish(self) -> list[TurnAudit]:
        approved_before: set[str] = set()
        for state in self.turns:
            derive_turn(
                state.audit, state.calls, self.items, self.recorded_escalations, approved_before,
                self.refused_by,
            )
        return [state.audit for state in self.turns]


def audit_rollout(path: Path, search_roots: Sequence[Path] = ()) -> AuditReport:
    """The audit report of the rollout at ``path`` (and of the history it continues).

    A parent that cannot be found is reported in ``lineage_error``; the file's own turns
    are still audited. Raises ``OSError`` when ``path`` cannot be read.
    """
    lineage_error = None
    try:
        spans = resolve_lineage(path, search_roots)
    except LineageError as error:
        lineage_error = f"{path.name}: {error.detail}"
        spans = [RolloutSpan(path, file_size(path), inherited=False)]
    fold = _AuditFold()
    skipped: list[SkippedLineAudit] = []
    torn_tail = False
    for span, number, line in lines_forward(spans):
        if line.is_blank:
            continue
        if not line.terminated and not span.inherited:
            torn_tail = True
            skipped.append(SkippedLineAudit(span.path.name, number, "torn last line (no newline)"))
            continue
        try:
            decoded = decode_line(line.data)
        except LineError as error:
            skipped.append(SkippedLineAudit(span.path.name, number, str(error)))
            continue
        record = record_of(decoded, line.start)
        if record is None:
            continue
        try:
            fold.feed(span, number, record)
        except RecursionError:
            # Decoded, but nested too deeply for what the fold does with it.
            skipped.append(SkippedLineAudit(span.path.name, number, nesting_problem()))
    meta = read_session_meta(spans) or {}
    thread_id = meta.get("id")
    return AuditReport(
        source=path.name,
        thread_id=thread_id if isinstance(thread_id, str) else None,
        session={key: meta[key] for key in _SESSION_FIELDS if key in meta},
        lineage=[span.path.name for span in spans],
        lineage_error=lineage_error,
        turns=fold.finish(),
        skipped_lines=skipped,
        torn_tail=torn_tail,
    )


def _program(payload: dict[str, Any]) -> Program:
    originator, version = payload.get("originator"), payload.get("cli_version")
    return program_of(originator if isinstance(originator, str) else None,
                      version if isinstance(version, str) else None)
