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

import msgspec
from msgspec import UNSET, UnsetType

from llmx.events import event_msgs as em
from llmx.events import response_items as ri
from llmx.events import turn_items as ti
from llmx.events.lines import Era, LineError, RolloutLine, UnknownPayload, decode_line
from llmx.events.nesting import nesting_problem
from llmx.events.ops import ExecApproval, PatchApproval, ResolveElicitation
from llmx.events.raw_lines import file_size
from llmx.events.records import (
    DecisionRecord,
    EscalationRecord,
    LineType,
    SandboxDenialRecord,
    SessionMeta,
    SubmissionRecord,
    TurnContext,
    TurnContextHead,
    WriterRecord,
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
from llmx.projections.audit.rules import Items, TurnCalls, derive_turn, settings_from
from llmx.projections.lineage import LineageError, RolloutSpan, lines_forward, resolve_lineage
from llmx.projections.resume import read_session_meta
from llmx.projections.turn_programs import Program, TurnWriters, program_of
from llmx.projections.turns import is_contextual_user_text

# A ``ReviewDecision`` value as the report's decision.
_DECISIONS = {
    "approved": Decision.APPROVED,
    "approved_for_session": Decision.APPROVED_FOR_SESSION,
    "denied": Decision.DENIED,
    "abort": Decision.ABORTED,
}
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
        self.items: Items = {}
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

    def turn_for(self, span: RolloutSpan, turn_id: str | UnsetType | None) -> _TurnState:
        if isinstance(turn_id, str) and turn_id in self.by_turn_id:
            return self.by_turn_id[turn_id]
        return self.current(span)

    def feed(self, span: RolloutSpan, line: int, record: RolloutLine) -> None:
        """One line, its payload read as the schema's type for its line type; a payload
        that does not fit its type is passed over."""
        kind = record.type
        if kind == LineType.TURN_CONTEXT:
            self._turn_context(span, record)
            return
        payload: object = record.read_item()
        if isinstance(payload, UnknownPayload) and kind == LineType.EVENT_MSG:
            payload = em.decode_older_event(payload.type, record.payload_raw)
        if isinstance(payload, SessionMeta):
            self.programs.on_meta(program_of(payload.originator, payload.cli_version))
        elif kind == LineType.SESSION_META:  # odd field types: no program on record
            self.programs.on_meta(program_of(None, None))
        elif isinstance(payload, ri.ResponseItemBase):
            self._response_item(span, line, record, payload)
        elif kind == LineType.RESPONSE_ITEM:  # an item of a kind not modelled: in the turn
            self.current(span)
        elif isinstance(payload, em.EventMsgBase | em.McpToolCallEndE0):
            self._event(span, line, record, payload)
        elif isinstance(payload, SubmissionRecord):
            self._submission(record, payload)
        elif isinstance(payload, EscalationRecord):
            self._escalation(line, payload)
        elif isinstance(payload, DecisionRecord):
            self._decision(span, line, record, payload)
        elif isinstance(payload, SandboxDenialRecord):
            self._sandbox_denial(span, line, payload)
        elif isinstance(payload, WriterRecord):
            self.programs.on_writer(program_of(payload.originator, payload.cli_version))
            tools = payload.tools
            self._pending_tools = None if isinstance(tools, UnsetType) else list(tools)

    def _turn_context(self, span: RolloutSpan, record: RolloutLine) -> None:
        # The turn id segments turns even when the rest of the payload has odd fields.
        head = record.payload_as(TurnContextHead)
        turn_id = head.turn_id if isinstance(head, TurnContextHead) else None
        state = self.turns[-1] if self.turns else None
        opens_turn = state is None or (
            turn_id is not None and state.audit.turn_id not in (None, turn_id)
        ) or (turn_id is None and state.audit.prompt is not None)
        if opens_turn or state is None:
            state = self.start(span, turn_id, record.timestamp)
        elif state.audit.turn_id is None and turn_id is not None:
            state.audit.turn_id = turn_id
            self.by_turn_id[turn_id] = state
        context = record.read_item()
        if isinstance(context, TurnContext):
            state.audit.settings = settings_from(context)

    def _response_item(
        self, span: RolloutSpan, line: int, record: RolloutLine, item: ri.ResponseItemBase
    ) -> None:
        state = self.current(span)
        if isinstance(item, ri.FunctionCall | ri.CustomToolCall | ri.LocalShellCall):
            state.calls.add_call(item, line, record.timestamp)
        elif isinstance(item, ri.FunctionCallOutput | ri.CustomToolCallOutput):
            state.calls.add_output(item)
        elif isinstance(item, ri.Message) and item.role == "user" and state.audit.prompt is None:
            text = "\n".join(part.text for part in item.content
                             if isinstance(part, ri.InputText | ri.OutputText) and part.text)
            if text and not is_contextual_user_text(text):
                state.audit.prompt = text

    def _event(
        self, span: RolloutSpan, line: int, record: RolloutLine,
        event: em.EventMsgBase | em.McpToolCallEndE0,
    ) -> None:
        if isinstance(event, em.TaskStarted):  # and its alias turn_started
            turn_id = event.turn_id or None
            current = self.turns[-1] if self.turns else None
            program = self.programs.on_turn_started()
            tools, self._pending_tools = self._pending_tools, None
            if current is not None and current.audit.turn_id == turn_id and turn_id:
                self._attribute(current.audit, program)
                current.audit.tools = tools
                return
            state = self.start(span, turn_id, record.timestamp)
            self._attribute(state.audit, program)
            state.audit.tools = tools
        elif isinstance(event, em.TaskComplete):  # and its alias turn_complete
            state = self.turn_for(span, event.turn_id)
            # A turn that ended on an error (Codex and llmx both put it in the event).
            failed = isinstance(event.error, dict)
            state.audit.status = "failed" if failed else "completed"
            state.audit.ended_at = record.timestamp
        elif isinstance(event, em.TurnAborted):
            state = self.turn_for(span, event.turn_id)
            state.audit.status = f"aborted ({event.reason})"
            state.audit.ended_at = record.timestamp
        elif isinstance(event, em.ItemCompleted):
            self._item(span, line, event)
        elif isinstance(event, em.UserMessage):
            state = self.current(span)
            if state.audit.prompt is None:
                state.audit.prompt = event.message
        elif isinstance(event, em.ExecCommandEnd | em.PatchApplyEnd):
            self._legacy_end(span, line, event.call_id, event, event.turn_id)
        elif isinstance(event, em.McpToolCallEnd | em.McpToolCallEndE0):
            self._legacy_end(span, line, event.call_id, event, None)
        elif isinstance(event, em.PatchApplyBegin) and event.auto_approved:
            self.current(span).calls.auto_approved.add(event.call_id)
        elif isinstance(event, em.TokenCount) and event.info is not None:
            self.current(span).audit.token_usage = msgspec.to_builtins(event.info)
        elif isinstance(event, em.ErrorEvent):
            self.current(span).audit.errors.append(ErrorAudit("error", event.message, line))
        elif isinstance(event, em.StreamError):
            self.current(span).audit.errors.append(
                ErrorAudit("stream_error", event.message, line))
        elif isinstance(event, em.ExecApprovalRequest | em.ApplyPatchApprovalRequest):
            self._approval_request(span, line, record, event)
        elif isinstance(event, em.ElicitationRequest):
            self._elicitation_request(span, line, record, event)

    def _legacy_end(
        self, span: RolloutSpan, line: int, call_id: str,
        event: em.ExecCommandEnd | em.PatchApplyEnd | em.McpToolCallEnd | em.McpToolCallEndE0,
        turn_id: str | None,
    ) -> None:
        state = self.turn_for(span, turn_id)
        self.items[call_id] = (event, line)
        state.calls.add_orphan_item(call_id)

    def _item(self, span: RolloutSpan, line: int, completed: em.ItemCompleted) -> None:
        state = self.turn_for(span, completed.turn_id)
        item = completed.item
        if isinstance(item, ti.UserMessageItem):
            if state.audit.prompt is None:
                state.audit.prompt = item.text()
        elif isinstance(item, ti.CommandExecutionItem | ti.FileChangeItem | ti.McpToolCallItem):
            self.items[item.id] = (item, line)
            state.calls.add_orphan_item(item.id)
            approval = self.requests.get(item.id)
            if approval is not None and not approval.subject:
                # Decided before anything was asked (the policy): the item names it.
                approval.subject = (
                    " ".join(item.command) if isinstance(item, ti.CommandExecutionItem)
                    else ", ".join(sorted(item.changes)) if isinstance(item, ti.FileChangeItem)
                    else ""
                )

    def _approval_request(
        self, span: RolloutSpan, line: int, record: RolloutLine,
        request: em.ExecApprovalRequest | em.ApplyPatchApprovalRequest,
    ) -> None:
        state = self.turn_for(span, request.turn_id)
        call_id = request.call_id
        is_exec = isinstance(request, em.ExecApprovalRequest)
        subject = (
            " ".join(request.command) if isinstance(request, em.ExecApprovalRequest)
            else ", ".join(sorted(request.changes))
        )
        reason = request.reason
        approval = ApprovalAudit(
            call_id=call_id, kind="exec" if is_exec else "patch", subject=subject,
            decision=Decision.PENDING, decider=Decider.UNKNOWN,
            provenance=Provenance.RECORDED,
            reason=None if isinstance(reason, UnsetType) else reason,
            requested_at=record.timestamp, decided_at=None, line=line,
        )
        state.audit.approvals.append(approval)
        state.calls.recorded_approvals.add(call_id)
        key = request.answer_id() if isinstance(request, em.ExecApprovalRequest) else call_id
        self.requests[key or call_id] = approval

    def _elicitation_request(
        self, span: RolloutSpan, line: int, record: RolloutLine, request: em.ElicitationRequest
    ) -> None:
        """An MCP tool's approval (llmx records the question and its answer)."""
        request_id = str(request.id)
        if not request_id.startswith(_MCP_APPROVAL_PREFIX):
            return
        call_id = request_id.removeprefix(_MCP_APPROVAL_PREFIX)
        server = request.server_name
        asked = _MCP_QUESTION.search(request.text())
        state = self.turn_for(span, request.turn_id)
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

    def _submission(self, record: RolloutLine, submission: SubmissionRecord) -> None:
        if isinstance(submission.op, ResolveElicitation):
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
        if not isinstance(submission.op, ExecApproval | PatchApproval):
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

    def _sandbox_denial(self, span: RolloutSpan, line: int, denial: SandboxDenialRecord) -> None:
        """llmx's ``sandbox_denial`` line: a command refused as it started, which has no
        item (as in Codex); it is audited as the failed command it was, on record."""
        self.items[denial.call_id] = (denial, line)
        self.turn_for(span, denial.turn_id or None).calls.add_orphan_item(denial.call_id)

    def _decision(
        self, span: RolloutSpan, line: int, record: RolloutLine, decision: DecisionRecord
    ) -> None:
        """llmx's ``decision`` line: how a question was settled, asked or not."""
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

    def _escalation(self, line: int, escalation: EscalationRecord) -> None:
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
        if decoded.type == LineType.STATE or decoded.era is Era.UNKNOWN:
            continue  # carries nothing for the fold
        try:
            fold.feed(span, number, decoded)
        except RecursionError:
            # Decoded, but nested too deeply for what the fold does with it.
            skipped.append(SkippedLineAudit(span.path.name, number, nesting_problem()))
    meta = read_session_meta(spans)
    fields = msgspec.to_builtins(meta) if meta is not None else {}
    return AuditReport(
        source=path.name,
        thread_id=meta.id if meta is not None else None,
        session={key: fields[key] for key in _SESSION_FIELDS if key in fields},
        lineage=[span.path.name for span in spans],
        lineage_error=lineage_error,
        turns=fold.finish(),
        skipped_lines=skipped,
        torn_tail=torn_tail,
    )

