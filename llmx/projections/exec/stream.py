"""Fold rollout lines, of any era, into exec notifications (:mod:`~llmx.projections.exec.items`).

The fold keeps just enough state to turn a log back into what ``exec`` saw live: the
canonical ``session_meta``, the latest ``turn_context`` (for the header), which turn is
open, which tool items have started, and the turn's diff. Each payload it reads is the
event store's type for its line (a shape of an older Codex by the Struct of that shape);
a payload that fits neither, and every line it does not read (response items, new Codex
record types), produces nothing.

Both representations may describe the same fact (legacy ``exec_command_end`` and an
``item_completed`` ``CommandExecution``); tool items are matched by call id and messages
by text, so each is shown once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from msgspec import UnsetType

from llmx.events import event_msgs as em
from llmx.events import turn_items as ti
from llmx.events.lines import RolloutLine, UnknownPayload
from llmx.events.ops import ExecApproval, PatchApproval, ResolveElicitation, UserTurn
from llmx.events.primitives import AddFile, DeleteFile, Duration, FileChange, TokenUsage
from llmx.events.records import (
    DecisionRecord,
    EscalationRecord,
    SessionMeta,
    SubmissionRecord,
    TurnContext,
    WriterRecord,
)
from llmx.projections.diff_render import TurnDiffTracker
from llmx.projections.exec import items as ei
from llmx.projections.exec.header import build_header
from llmx.projections.shell_escape import join_command
from llmx.projections.turn_programs import TurnWriters, program_of

Notifications = list[ei.ExecNotification]
# The line types the fold reads. Every other line (response items, ``world_state``,
# ``token_usage_record``: over half of a rollout's bytes) produces nothing, so
# :meth:`ExecStream.feed_line` does not decode its payload at all.
CONSUMED_LINE_TYPES = frozenset(
    {"event_msg", "session_meta", "turn_context", "submission", "escalation", "writer",
     "decision"}
)
_TOOL_ITEMS = (ei.CommandItem, ei.ExecFileChangeItem, ei.ExecMcpToolCallItem, ei.ExecWebSearchItem)
_LEGACY, _ITEMS = 0, 1


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _duration_ms(value: Duration | UnsetType) -> int | None:
    if isinstance(value, Duration):
        return value.secs * 1000 + value.nanos // 1_000_000
    return None


def _cwd(text: str) -> str:
    return unquote(text[len("file://") :]) if text.startswith("file://") else text


# Turn items spell statuses in camelCase (``inProgress``); exec prints snake_case.
_CAMEL_STATUSES = {"inProgress": ei.ItemStatus.IN_PROGRESS}


def _status(value: str | UnsetType, default: ei.ItemStatus) -> ei.ItemStatus:
    if not isinstance(value, str):
        return default
    if value in _CAMEL_STATUSES:
        return _CAMEL_STATUSES[value]
    try:
        return ei.ItemStatus(value)
    except ValueError:
        return default


def _changes(changes: dict[str, FileChange]) -> list[ei.FileChangeEntry]:
    entries: list[ei.FileChangeEntry] = []
    for path, change in sorted(changes.items()):
        if isinstance(change, AddFile):
            entry = ei.FileChangeEntry(path, "add", content=change.content)
        elif isinstance(change, DeleteFile):
            entry = ei.FileChangeEntry(path, "delete", content=change.content)
        else:
            entry = ei.FileChangeEntry(path, "update", unified_diff=change.unified_diff or None,
                                       move_path=change.move_path)
        entries.append(entry)
    return entries


def _mcp_outcome(result: Any) -> tuple[Any, str | None, bool]:
    """An ``mcp_tool_call_end`` result (serde's ``Result``): the call's result, its error,
    and whether it failed."""
    value: Any = None
    error: str | None = None
    if isinstance(result, dict) and "Ok" in result:
        value = result["Ok"]
    elif isinstance(result, dict) and "Err" in result:
        error = str(result["Err"])
    failed = error is not None or (isinstance(value, dict) and bool(value.get("isError")))
    return value, error, failed


class ExecStream:
    """Incremental fold: :meth:`feed_line` per rollout line, then :meth:`finish`."""

    def __init__(self) -> None:
        self._meta: SessionMeta | None = None
        self._context: TurnContext | None = None
        self._turn_open = False
        self._turn_announced = False
        self._turn_explicit = False
        self._turn_id = ""
        self._turn_error: str | None = None
        self._last_agent_message: str | None = None
        self._started: set[str] = set()
        self._completed: set[str] = set()
        self._message_counts: dict[tuple[int, str, str], int] = {}
        self._diff: TurnDiffTracker | None = None
        self._source_has_turn_diffs = False
        self._had_turn = False
        self._writers = TurnWriters()
        # Why the approval policy refused a call, by call id (llmx's ``decision`` lines).
        self._refused_by_policy: dict[str, str] = {}
        # One handler per payload type the fold reads; any other payload produces nothing.
        handlers: dict[type[Any], Callable[[Any, Notifications], None]] = {
            SessionMeta: self._on_session_meta,
            WriterRecord: self._on_writer,
            TurnContext: self._on_turn_context,
            SubmissionRecord: self._on_submission,
            EscalationRecord: self._on_escalation,
            DecisionRecord: self._on_decision,
            em.TaskStarted: self._on_task_started,
            em.TurnStarted: self._on_task_started,
            em.TaskComplete: self._on_task_complete,
            em.TurnComplete: self._on_task_complete,
            em.TurnAborted: self._on_turn_aborted,
            em.UserMessage: self._on_user_message,
            em.AgentMessage: self._on_agent_message,
            em.AgentReasoning: self._on_agent_reasoning,
            em.ExecCommandBegin: self._on_exec_begin,
            em.ExecCommandEnd: self._on_exec_end,
            em.PatchApplyBegin: self._on_patch_begin,
            em.PatchApplyEnd: self._on_patch_end,
            em.McpToolCallBegin: self._on_mcp_begin,
            em.McpToolCallBeginE0: self._on_mcp_begin,
            em.McpToolCallEnd: self._on_mcp_end,
            em.McpToolCallEndE0: self._on_mcp_end,
            em.WebSearchBegin: self._on_web_search_begin,
            em.WebSearchEnd: self._on_web_search_end,
            em.ItemStarted: self._on_item_started,
            em.ItemCompleted: self._on_item_completed,
            em.TokenCount: self._on_token_count,
            em.TokenCountE0: self._on_token_count_e0,
            em.PlanUpdate: self._on_plan_update,
            em.TurnDiff: self._on_turn_diff,
            em.ErrorEvent: self._on_error,
            em.WarningEvent: self._on_warning,
            em.StreamError: self._on_stream_error,
            em.DeprecationNotice: self._on_deprecation,
            em.BackgroundEvent: self._on_background,
            em.ContextCompacted: self._on_context_compacted,
            em.ExecApprovalRequest: self._on_exec_approval,
            em.ApplyPatchApprovalRequest: self._on_patch_approval,
            em.ElicitationRequest: self._on_elicitation,
            em.McpStartupUpdate: self._on_mcp_startup,
        }
        self._handlers = handlers

    # -- entry points -------------------------------------------------------------------

    def feed_line(self, line: RolloutLine) -> Notifications:
        """Notifications caused by one rollout line. Its payload is read as the schema's
        type for its line type (and ``event_msg`` tag); one that does not fit it is read in
        the tag's older shape if it has one, and otherwise produces nothing."""
        out: Notifications = []
        if line.type not in CONSUMED_LINE_TYPES:
            return out
        payload: Any = line.read_item()
        if isinstance(payload, UnknownPayload):
            payload = em.decode_older_event(payload.type, line.payload_raw)
        elif isinstance(payload, em.TokenCount) and payload.info is None:
            # E0's bare usage object also decodes as a ``token_count`` without ``info``.
            payload = em.decode_older_event("token_count", line.payload_raw) or payload
        handler = self._handlers.get(type(payload))
        if handler is not None:
            handler(payload, out)
        return out

    def finish(self) -> Notifications:
        """Close what the log left open: an implicit (pre-``task_started``) turn completes;
        a turn cut off mid-way is reported as unfinished."""
        out: Notifications = []
        if self._turn_open:
            status = (ei.ExecTurnStatus.UNFINISHED if self._turn_explicit
                      else ei.ExecTurnStatus.COMPLETED)
            self._end_turn(out, status)
        return out

    @property
    def thread_id(self) -> str:
        meta = self._meta
        if meta is None:
            return ""
        return meta.id or _str(meta.session_id)

    # -- the thread's and the turn's settings -----------------------------------------------

    def _on_session_meta(self, meta: SessionMeta, out: Notifications) -> None:
        if self._meta is None:  # the first one is canonical; forks copy their parent's
            self._meta = meta
        self._writers.on_meta(program_of(meta.originator, meta.cli_version))

    def _on_writer(self, writer: WriterRecord, out: Notifications) -> None:
        self._writers.on_writer(program_of(writer.originator, writer.cli_version))

    def _on_turn_context(self, context: TurnContext, out: Notifications) -> None:
        self._context = context

    # -- turns --------------------------------------------------------------------------

    def _open_turn(self, turn_id: str, explicit: bool) -> None:
        self._turn_open, self._turn_announced, self._turn_explicit = True, False, explicit
        self._turn_id, self._turn_error, self._last_agent_message = turn_id, None, None
        self._message_counts.clear()
        self._diff = None

    def _announce(self, out: Notifications) -> None:
        """Emit ``TurnStarted`` before the first thing the turn shows (the header needs the
        turn's ``turn_context``, which Codex writes after ``task_started``)."""
        if not self._turn_open:
            self._open_turn("", explicit=False)
        if not self._turn_announced:
            self._turn_announced = self._had_turn = True
            program = self._writers.current if self._turn_explicit else None
            program = program or self._writers.for_implicit_turn()
            header = build_header(self._meta, self._context, program)
            out.append(ei.ExecTurnStarted(self._turn_id, self.thread_id, header))

    def _end_turn(
        self, out: Notifications, status: ei.ExecTurnStatus, error: str | None = None
    ) -> None:
        self._announce(out)
        out.append(ei.TurnEnded(self._turn_id, status, error, self._last_agent_message))
        self._turn_open = False

    def _on_task_started(self, started: em.TaskStarted, out: Notifications) -> None:
        if self._turn_open:
            self._end_turn(out, ei.ExecTurnStatus.UNFINISHED)
        self._writers.on_turn_started()
        self._open_turn(started.turn_id, explicit=True)

    def _on_task_complete(self, complete: em.TaskComplete, out: Notifications) -> None:
        error = complete.error
        message = _str(error.get("message")) if isinstance(error, dict) else None
        if complete.last_agent_message is not None:
            self._last_agent_message = complete.last_agent_message
        if message is not None and self._turn_error is None:
            # The error notification itself is not persisted; the failed turn carries it.
            self._announce(out)
            out.append(ei.Notice(ei.NoticeKind.ERROR, message))
            self._turn_error = message
        if self._turn_error is not None:
            self._end_turn(out, ei.ExecTurnStatus.FAILED, self._turn_error)
        else:
            self._end_turn(out, ei.ExecTurnStatus.COMPLETED)

    def _on_turn_aborted(self, aborted: em.TurnAborted, out: Notifications) -> None:
        self._end_turn(out, ei.ExecTurnStatus.INTERRUPTED)

    # -- messages (deduplicated between the two representations by text) ------------------

    def _message(self, source: int, kind: str, text: str) -> bool:
        """Whether this copy of a message is new (not the twin of one already shown)."""
        mine = self._message_counts.get((source, kind, text), 0) + 1
        self._message_counts[(source, kind, text)] = mine
        return mine > self._message_counts.get((1 - source, kind, text), 0)

    def _on_user_message(self, message: em.UserMessage, out: Notifications) -> None:
        self._user_text(_LEGACY, message.message, "", out)

    def _user_text(self, source: int, text: str, item_id: str, out: Notifications) -> None:
        if self._turn_open and not self._turn_explicit and self._turn_announced:
            self._end_turn(out, ei.ExecTurnStatus.COMPLETED)  # eras without task_started
        if self._message(source, "user", text):
            self._announce(out)
            out.append(ei.ExecItemCompleted(ei.ExecUserMessageItem(item_id, text)))

    def _agent_text(self, source: int, text: str, item_id: str, out: Notifications) -> None:
        self._last_agent_message = text
        if self._message(source, "agent", text):
            self._announce(out)
            out.append(ei.ExecItemCompleted(ei.ExecAgentMessageItem(item_id, text)))

    def _on_agent_message(self, message: em.AgentMessage, out: Notifications) -> None:
        self._agent_text(_LEGACY, message.message, "", out)

    def _on_agent_reasoning(self, reasoning: em.AgentReasoning, out: Notifications) -> None:
        if self._message(_LEGACY, "reasoning", reasoning.text):
            self._announce(out)
            out.append(ei.ExecItemCompleted(ei.ExecReasoningItem("", [reasoning.text])))

    def _on_context_compacted(self, event: em.ContextCompacted, out: Notifications) -> None:
        if self._message(_LEGACY, "compaction", ""):
            self._announce(out)
            out.append(ei.ExecItemCompleted(ei.CompactionItem("")))

    # -- tool items (deduplicated by call id) ---------------------------------------------

    def _announce_item(self, out: Notifications) -> None:
        """Items written after their turn ended (Codex records an interrupted command when
        it shuts down) are shown where they appear, without opening a new turn."""
        if self._turn_open or not self._had_turn:
            self._announce(out)

    def _start(self, item: ei.ExecItem, out: Notifications) -> None:
        if item.id in self._started or item.id in self._completed:
            return
        self._announce_item(out)
        self._started.add(item.id)
        out.append(ei.ExecItemStarted(item))

    def _complete(self, item: ei.ExecItem, out: Notifications) -> None:
        if item.id and item.id in self._completed:
            return
        self._announce_item(out)
        if isinstance(item, _TOOL_ITEMS) and item.id not in self._started:
            # Paginated rollouts persist only the completion; exec showed the start too.
            out.append(ei.ExecItemStarted(_as_started(item)))
        self._started.discard(item.id)
        if item.id:
            self._completed.add(item.id)
        out.append(ei.ExecItemCompleted(item))
        if isinstance(item, ei.ExecFileChangeItem) and item.status is ei.ItemStatus.COMPLETED:
            self._track_diff(item, out)

    def _track_diff(self, item: ei.ExecFileChangeItem, out: Notifications) -> None:
        if self._source_has_turn_diffs:
            return
        if self._diff is None:
            self._diff = TurnDiffTracker(self._context.cwd if self._context else "")
        self._diff.apply(item.changes)
        diff = self._diff.render()
        if diff.strip():
            out.append(ei.TurnDiffUpdated(diff))

    def _on_exec_begin(self, begin: em.ExecCommandBegin, out: Notifications) -> None:
        item = ei.CommandItem(
            begin.call_id, list(begin.command), _cwd(begin.cwd), ei.ItemStatus.IN_PROGRESS
        )
        self._start(item, out)

    def _on_exec_end(self, end: em.ExecCommandEnd, out: Notifications) -> None:
        default = ei.ItemStatus.COMPLETED if end.exit_code == 0 else ei.ItemStatus.FAILED
        item = ei.CommandItem(
            end.call_id,
            list(end.command),
            _cwd(end.cwd),
            _status(end.status, default),
            # E0 wrote only ``stdout`` and ``stderr``.
            end.aggregated_output or end.stdout + end.stderr,
            end.exit_code,
            _duration_ms(end.duration),
        )
        self._complete(item, out)

    def _on_patch_begin(self, begin: em.PatchApplyBegin, out: Notifications) -> None:
        item = ei.ExecFileChangeItem(
            begin.call_id, _changes(begin.changes), ei.ItemStatus.IN_PROGRESS
        )
        self._start(item, out)

    def _on_patch_end(self, end: em.PatchApplyEnd, out: Notifications) -> None:
        default = ei.ItemStatus.COMPLETED if end.success else ei.ItemStatus.FAILED
        item = ei.ExecFileChangeItem(end.call_id, _changes(end.changes),
                                     _status(end.status, default))
        self._complete(item, out)

    def _on_mcp_begin(
        self, begin: em.McpToolCallBegin | em.McpToolCallBeginE0, out: Notifications
    ) -> None:
        inv = begin.invocation if isinstance(begin, em.McpToolCallBegin) else begin
        arguments = None if isinstance(inv.arguments, UnsetType) else inv.arguments
        item = ei.ExecMcpToolCallItem(
            begin.call_id, inv.server, inv.tool, arguments, ei.ItemStatus.IN_PROGRESS
        )
        self._start(item, out)

    def _on_mcp_end(
        self, end: em.McpToolCallEnd | em.McpToolCallEndE0, out: Notifications
    ) -> None:
        inv = end.invocation if isinstance(end, em.McpToolCallEnd) else end
        arguments = None if isinstance(inv.arguments, UnsetType) else inv.arguments
        result, error, failed = _mcp_outcome(end.result)
        item = ei.ExecMcpToolCallItem(
            end.call_id,
            inv.server,
            inv.tool,
            arguments,
            ei.ItemStatus.FAILED if failed else ei.ItemStatus.COMPLETED,
            result,
            error,
            _duration_ms(end.duration),
        )
        self._complete(item, out)

    def _on_web_search_begin(self, begin: em.WebSearchBegin, out: Notifications) -> None:
        self._start(ei.ExecWebSearchItem(begin.call_id, ""), out)

    def _on_web_search_end(self, end: em.WebSearchEnd, out: Notifications) -> None:
        action = None if isinstance(end.action, UnsetType) else end.action
        self._complete(ei.ExecWebSearchItem(end.call_id, end.query, action), out)

    # -- paginated turn items -------------------------------------------------------------

    def _on_item_started(self, started: em.ItemStarted, out: Notifications) -> None:
        item = _exec_item(started.item)
        if isinstance(item, _TOOL_ITEMS):
            self._start(item, out)

    def _on_item_completed(self, completed: em.ItemCompleted, out: Notifications) -> None:
        item = _exec_item(completed.item)
        if item is None:
            return
        if isinstance(item, ei.ExecUserMessageItem):
            self._user_text(_ITEMS, item.text, item.id, out)
        elif isinstance(item, ei.ExecAgentMessageItem):
            self._agent_text(_ITEMS, item.text, item.id, out)
        elif isinstance(item, ei.ExecReasoningItem):
            if self._message(_ITEMS, "reasoning", "\n".join(item.summary)):
                self._announce(out)
                out.append(ei.ExecItemCompleted(item))
        elif isinstance(item, ei.CompactionItem):
            if self._message(_ITEMS, "compaction", ""):
                self._announce(out)
                out.append(ei.ExecItemCompleted(item))
        elif isinstance(item, ei.ExecPlanItem):
            self._announce(out)
            out.append(ei.ExecItemCompleted(item))
        else:
            already = bool(item.id) and item.id in self._completed
            self._complete(item, out)
            if not already:
                self._refusal(item, completed.item, out)

    def _refusal(self, item: ei.ExecItem, source: ti.TurnItem, out: Notifications) -> None:
        """Say why a call did nothing when nobody was asked about it: the policy's
        refusal, or the error of a patch that failed (verification included)."""
        reason = self._refused_by_policy.pop(item.id, None)
        if reason is not None:
            out.append(ei.Refusal(item.id, reason))
        elif isinstance(item, ei.ExecFileChangeItem) and item.status is ei.ItemStatus.FAILED:
            error = _str(source.stderr).strip() if isinstance(source, ti.FileChangeItem) else ""
            if error:
                out.append(ei.Refusal(item.id, error))

    # -- accounting and notices -----------------------------------------------------------

    def _on_token_count(self, count: em.TokenCount, out: Notifications) -> None:
        if count.info is not None:
            self._usage(count.info.total_token_usage, out)

    def _on_token_count_e0(self, count: em.TokenCountE0, out: Notifications) -> None:
        self._usage(count, out)

    def _usage(self, total: TokenUsage | em.TokenCountE0, out: Notifications) -> None:
        cache_write = total.cache_write_input_tokens
        out.append(
            ei.UsageUpdated(
                total.input_tokens,
                total.cached_input_tokens,
                cache_write if isinstance(cache_write, int) else 0,
                total.output_tokens,
                total.reasoning_output_tokens,
            )
        )

    def _on_plan_update(self, update: em.PlanUpdate, out: Notifications) -> None:
        steps: list[ei.ExecPlanStep] = []
        for step in update.plan:
            try:
                status = ei.PlanStepStatus(step.status.replace("inProgress", "in_progress"))
            except ValueError:
                status = ei.PlanStepStatus.PENDING
            steps.append(ei.ExecPlanStep(step.step, status))
        explanation = update.explanation
        self._announce(out)
        out.append(ei.PlanUpdated(explanation if isinstance(explanation, str) else None, steps))

    def _on_turn_diff(self, diff: em.TurnDiff, out: Notifications) -> None:
        self._source_has_turn_diffs = True
        if diff.unified_diff.strip():
            self._announce(out)
            out.append(ei.TurnDiffUpdated(diff.unified_diff))

    def _on_error(self, error: em.ErrorEvent, out: Notifications) -> None:
        self._announce(out)
        self._turn_error = error.message
        out.append(ei.Notice(ei.NoticeKind.ERROR, error.message))

    def _on_warning(self, warning: em.WarningEvent, out: Notifications) -> None:
        self._announce(out)
        out.append(ei.Notice(ei.NoticeKind.WARNING, warning.message))

    def _on_stream_error(self, error: em.StreamError, out: Notifications) -> None:
        self._announce(out)
        details = _str(error.additional_details).strip()
        text = f"{error.message} ({details})" if details else error.message
        out.append(ei.Notice(ei.NoticeKind.STREAM_ERROR, text))

    def _on_deprecation(self, notice: em.DeprecationNotice, out: Notifications) -> None:
        self._announce(out)
        details = notice.details if isinstance(notice.details, str) else None
        out.append(ei.Notice(ei.NoticeKind.DEPRECATION, notice.summary, details))

    def _on_background(self, event: em.BackgroundEvent, out: Notifications) -> None:
        self._announce(out)
        out.append(ei.Notice(ei.NoticeKind.BACKGROUND, event.message))

    # -- approvals ------------------------------------------------------------------------

    def _on_exec_approval(self, request: em.ExecApprovalRequest, out: Notifications) -> None:
        reason = request.reason
        self._announce(out)
        out.append(
            ei.ApprovalRequested(
                _str(request.approval_id) or request.call_id,
                "command",
                join_command(list(request.command)),
                _cwd(request.cwd) or None,
                reason if isinstance(reason, str) else None,
            )
        )

    def _on_patch_approval(
        self, request: em.ApplyPatchApprovalRequest, out: Notifications
    ) -> None:
        reason = request.reason
        paths = ", ".join(change.path for change in _changes(request.changes))
        self._announce(out)
        out.append(
            ei.ApprovalRequested(
                request.call_id, "patch", paths, None,
                reason if isinstance(reason, str) else None,
            )
        )

    def _on_submission(self, submission: SubmissionRecord, out: Notifications) -> None:
        """llmx's own ``submission`` lines: approval answers are shown; a ``user_turn``
        carries the settings the turn runs with, which the header shows until the turn's
        ``turn_context`` (written when the model has the turn, so never for a turn that
        failed before it reached the model) confirms them."""
        op = submission.op
        if isinstance(op, UserTurn):
            self._context = TurnContext(
                cwd=op.cwd,
                approval_policy=op.approval_policy,
                sandbox_policy=op.sandbox_policy,
                model=op.model,
                summary=op.summary,
                effort=op.effort,
            )
            return
        if isinstance(op, ExecApproval):
            call_id, subject, decision = op.id, "command", op.decision
        elif isinstance(op, PatchApproval):
            call_id, subject, decision = op.id, "patch", op.decision
        elif isinstance(op, ResolveElicitation):
            call_id, subject, decision = str(op.request_id), "mcp", op.decision
        else:
            return
        if isinstance(decision, dict):  # {"approved_execpolicy_amendment": {...}}
            decision = next(iter(decision), "")
        decided_by = submission.decided_by
        self._announce(out)
        out.append(ei.ApprovalDecided(call_id, _str(decision), subject,
                                      None if isinstance(decided_by, UnsetType)
                                      else decided_by.value))

    def _on_decision(self, decision: DecisionRecord, out: Notifications) -> None:
        """llmx's ``decision`` lines. An answered question was shown with its
        submission; one nobody was asked is shown here: a session's earlier approval as
        an approval, a refusal by the policy with the call it refused."""
        if isinstance(decision.submission_id, str):
            return
        if decision.decision in ("approved", "approved_for_session"):
            self._announce(out)
            out.append(ei.ApprovalDecided(decision.call_id, decision.decision, decision.subject,
                                          decision.decided_by.value))
        else:
            reason = _str(decision.reason)
            self._refused_by_policy[decision.call_id] = (
                reason or f"{decision.decision} by the approval policy"
            )

    def _on_escalation(self, escalation: EscalationRecord, out: Notifications) -> None:
        mode = escalation.mode.value
        approver = escalation.approved_by.value
        permissions = f"{mode}, approved by {approver}" if approver else mode
        reason = escalation.reason
        command = [] if isinstance(escalation.command, UnsetType) else escalation.command
        self._announce(out)
        out.append(
            ei.EscalationRecorded(
                escalation.call_id,
                join_command(command),
                permissions,
                reason if isinstance(reason, str) else None,
            )
        )

    def _on_mcp_startup(self, update: em.McpStartupUpdate, out: Notifications) -> None:
        """A configured MCP server's state as a turn first saw it: a server still starting
        or failed is a warning (its tools are missing from the request), a ready one a note."""
        state, server = update.status.state, update.server
        self._announce(out)
        if state == "ready":
            out.append(ei.Notice(ei.NoticeKind.BACKGROUND, f"mcp: {server} ready"))
        elif state == "starting":
            out.append(ei.Notice(
                ei.NoticeKind.WARNING,
                f"MCP server `{server}` is still starting: the model's request goes without "
                "its tools, which join a later request once it is ready",
            ))
        elif state == "failed":
            out.append(ei.Notice(
                ei.NoticeKind.WARNING,
                f"MCP server `{server}` failed to start: {_str(update.status.error)}; "
                "its tools are not offered",
            ))

    def _on_elicitation(self, request: em.ElicitationRequest, out: Notifications) -> None:
        self._announce(out)
        # The question: ``message`` (older Codex, llmx) or ``request.message`` (newer Codex).
        out.append(
            ei.ApprovalRequested(
                str(request.id), "mcp", request.server_name, None, request.text() or None
            )
        )


def _as_started(item: ei.ExecItem) -> ei.ExecItem:
    if isinstance(item, ei.CommandItem):
        return ei.CommandItem(item.id, item.command, item.cwd, ei.ItemStatus.IN_PROGRESS,
                              by_user=item.by_user)
    if isinstance(item, ei.ExecFileChangeItem):
        return ei.ExecFileChangeItem(item.id, item.changes, ei.ItemStatus.IN_PROGRESS)
    if isinstance(item, ei.ExecMcpToolCallItem):
        return ei.ExecMcpToolCallItem(
            item.id, item.server, item.tool, item.arguments, ei.ItemStatus.IN_PROGRESS
        )
    if isinstance(item, ei.ExecWebSearchItem):
        return ei.ExecWebSearchItem(item.id, item.query, item.action)
    return item


def _exec_item(item: ti.TurnItem) -> ei.ExecItem | None:
    """A Codex ``TurnItem`` as an exec item; None for kinds exec ignores."""
    if isinstance(item, ti.UserMessageItem):
        return ei.ExecUserMessageItem(item.id, item.text())
    if isinstance(item, ti.AgentMessageItem):
        return ei.ExecAgentMessageItem(item.id, item.text())
    if isinstance(item, ti.ReasoningItem):
        return ei.ExecReasoningItem(item.id, list(item.summary_text), list(item.raw_content))
    if isinstance(item, ti.CommandExecutionItem):
        output = item.aggregated_output
        exit_code = item.exit_code
        return ei.CommandItem(
            item.id,
            list(item.command),
            _cwd(item.cwd),
            _status(item.status, ei.ItemStatus.COMPLETED),
            None if isinstance(output, UnsetType) else output,
            None if isinstance(exit_code, UnsetType) else exit_code,
            _duration_ms(item.duration),
            by_user=item.source == ti.USER_SHELL_SOURCE,
        )
    if isinstance(item, ti.FileChangeItem):
        return ei.ExecFileChangeItem(
            item.id, _changes(item.changes), _status(item.status, ei.ItemStatus.COMPLETED)
        )
    if isinstance(item, ti.McpToolCallItem):
        result, error = item.result, item.error
        return ei.ExecMcpToolCallItem(
            item.id,
            item.server,
            item.tool,
            item.arguments,
            _status(item.status, ei.ItemStatus.COMPLETED),
            None if isinstance(result, UnsetType) else result,
            None if isinstance(error, UnsetType) else error.message,
            _duration_ms(item.duration),
        )
    if isinstance(item, ti.WebSearchItem):
        return ei.ExecWebSearchItem(item.id, item.query, item.action)
    if isinstance(item, ti.PlanItem):
        return ei.ExecPlanItem(item.id, item.text)
    if isinstance(item, ti.ContextCompactionItem):
        return ei.CompactionItem(item.id)
    return None
