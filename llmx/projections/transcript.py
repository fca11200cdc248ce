"""The interactive transcript as a fold of rollout lines (live, resumed or replayed).

:class:`TranscriptFold` reads the same lines ``exec`` reads, through the same fold
(:class:`~llmx.projections.exec.stream.ExecStream`, which already reconciles Codex's two
representations of every fact), and turns its notifications into transcript cells
(:mod:`llmx.projections.transcript_cells`). What the exec fold leaves out because exec
never shows it live is read here: the streaming deltas (an answer, a reasoning summary,
a command's output as they arrive), rollbacks, renames, turn durations, the status line's
facts (model, cwd, sandbox, approval policy, tokens, context left) and the approval
requests still waiting for an answer.

Deltas are for the eyes only: a streamed cell is replaced by its completed item when that
arrives (and moved to where the completed item would have put it), and a streamed cell
whose item never completed is dropped when its turn ends, because the log does not hold
it. So folding the published lines of a live session and folding its file give equal
cells.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

import msgspec

from llmx.events.event_msgs import (
    AgentMessageContentDelta,
    ApplyPatchApprovalRequest,
    ElicitationRequest,
    ExecApprovalRequest,
    ExecCommandOutputDelta,
    ReasoningContentDelta,
    RequestUserInput,
    TaskComplete,
    TaskStarted,
    ThreadNameUpdated,
    ThreadRolledBack,
    TokenCount,
)
from llmx.events.lines import RolloutLine
from llmx.events.ops import (
    ExecApproval,
    PatchApproval,
    ResolveElicitation,
    UserInputAnswer,
    user_input_answers,
)
from llmx.events.primitives import TokenUsage
from llmx.events.records import SessionMeta, SubmissionRecord, TurnContext
from llmx.events.turn_items import REVERT_ITEM_PREFIX
from llmx.projections import transcript_cells as tc
from llmx.projections.exec import items as ei
from llmx.projections.exec.stream import ExecStream
from llmx.projections.shell_escape import join_command

# Output kept for a command while it runs; the completed item brings all of it.
LIVE_OUTPUT_CHARS = 64 * 1024
# Codex counts this many tokens of every request as fixed overhead (instructions, tools)
# when it says how much of the context window is left.
CONTEXT_BASELINE_TOKENS = 12_000

_DELTA_TYPES = frozenset(
    {"agent_message_content_delta", "reasoning_content_delta", "exec_command_output_delta"}
)
# Event types read here besides what the exec fold reads.
_OWN_EVENT_TYPES = frozenset(
    {
        "task_started", "turn_started", "task_complete", "turn_complete", "turn_aborted",
        "token_count", "thread_rolled_back", "thread_name_updated",
        "exec_approval_request", "apply_patch_approval_request", "elicitation_request",
        "request_user_input",
    }
)
_COMPLETION_TYPES = frozenset(
    {"item_completed", "exec_command_end", "patch_apply_end", "mcp_tool_call_end",
     "web_search_end"}
)
_ROLLED_BACK_TEXT = "Conversation reverted to this point. File changes are unchanged."
# The key of the line a turn's reconnects show in, while the turn runs.
_RETRY_KEY = "retry"
# A rollback that reverted its turns' patches too (llmx's ``revert_files``).
_REVERTED_TEXT = ("Conversation reverted to this point. {files} changed by its patches "
                  "reverted (changes made by shell commands stay).")


class PendingApproval(msgspec.Struct, frozen=True):
    """An approval request nobody has answered yet, with what the dialog shows."""

    # The id the decision must carry (``approval_id`` when the request has one).
    call_id: str
    kind: str  # "exec" | "patch" | "mcp"
    turn_id: str
    command: str = ""
    cwd: str = ""
    reason: str | None = None
    # For a patch: every path it would write, as resolved (links followed).
    targets: tuple[str, ...] = ()
    # For an MCP elicitation: the server asking, and the form to fill in (its
    # ``requested_schema``) when it asks for more than yes or no.
    server: str = ""
    form: Any = None


class SessionStatus(msgspec.Struct):
    """The facts of the status line, as the log last stated them."""

    thread_id: str = ""
    thread_name: str | None = None
    model: str = ""
    cwd: str = ""
    approval_policy: str = ""
    sandbox: str = ""
    total_tokens: int = 0
    # The session's whole usage as the last token count stated it (the exit's summary).
    total_usage: TokenUsage | None = None
    # Tokens of the last request (what is in the context window now).
    context_tokens: int = 0
    context_window: int | None = None
    turn_running: bool = False
    forked_from_id: str | None = None
    # The collaboration mode of the last turn ("default", "plan"; "" when not recorded).
    collaboration_mode: str = ""

    def context_left_percent(self) -> int | None:
        """Percent of the context window left, counted as Codex counts it; None when the
        window is unknown."""
        window = self.context_window
        if not window or window <= CONTEXT_BASELINE_TOKENS:
            return None
        effective = window - CONTEXT_BASELINE_TOKENS
        used = max(self.context_tokens - CONTEXT_BASELINE_TOKENS, 0)
        remaining = max(effective - used, 0)
        return round(remaining * 100 / effective)


def sandbox_name(policy: Any) -> str:
    """The mode of a ``sandbox_policy`` as written in a ``turn_context``."""
    if isinstance(policy, dict):
        kind = policy.get("type") or policy.get("mode")
        return str(kind) if kind else ""
    return str(policy) if isinstance(policy, str) else ""


def answered_text(asked: RequestUserInput, response: Any) -> str:
    """What the transcript says of the model's questions once answered."""
    answers = user_input_answers(response)
    done = sum(1 for question in asked.questions if answers.get(question.id))
    lines = [f"Questions {done}/{len(asked.questions)} answered"]
    for question in asked.questions:
        given = answers.get(question.id)
        lines.append(f"  {question.question}")
        lines.append(f"    answer: {', '.join(given)}" if given else "    no answer")
    return "\n".join(lines)


class TranscriptFold:
    """Rollout lines in, transcript cells out (see the module docstring)."""

    def __init__(self) -> None:
        self.cells: list[tc.Cell] = []
        self.status = SessionStatus()
        self.pending: dict[str, PendingApproval] = {}
        # The model's questions nobody has answered yet, by the asking turn's id.
        self.questions: dict[str, RequestUserInput] = {}
        # The last turn diff the log stated (what ``/diff`` of the turn would show).
        self.turn_diff = ""
        # Turns a rollback removed that were before the first cell (a fold that started
        # mid-file, see ``transcript_pages``): the earlier part must drop that many turns.
        self.rollback_before_start = 0
        # Tool and approval cells this fold created for an item that an earlier part of
        # the file started (a command completed after its turn ended): the earlier part's
        # cell, if it has one, takes this one's place.
        self.continued_keys: set[str] = set()
        self._stream = ExecStream()
        self._by_key: dict[str, int] = {}
        self._turn_starts: list[int] = []
        # The turn being folded (its ``task_started``'s id).
        self._turn_id = ""
        self._streaming: dict[str, int] = {}
        # The summary part each streaming reasoning cell is in (parts are paragraphs).
        self._stream_parts: dict[str, int] = {}
        self._dirty_from: int | None = None
        self._end_duration_ms: int | None = None
        self._explicit_end = False
        # The line being folded completes a tool item (for telling a start the exec fold
        # made up for a completion from a start the log recorded).
        self._line_completes = False
        # The ``session_meta`` lines folded so far: (id, where its history begins).
        self._seen_metas: set[tuple[str, bytes]] = set()
        # Files the rollback about to be folded reverted (its revert item came first).
        self._reverted_files = 0

    # -- entry points ------------------------------------------------------------------

    def feed_lines(self, lines: Iterable[RolloutLine]) -> None:
        for line in lines:
            self.feed_line(line)

    def feed_line(self, line: RolloutLine) -> None:
        kind = line.type
        if kind == "event_msg":
            payload_type = line.payload_type
            if payload_type in _DELTA_TYPES:
                self._on_delta(line.item())
                return
            if payload_type in _OWN_EVENT_TYPES:
                self._before_event(payload_type, line)
            self._line_completes = payload_type in _COMPLETION_TYPES
        elif kind == "turn_context":
            self._on_turn_context(line.item())
        elif kind == "session_meta":
            self._on_session_meta(line.item())
        elif kind == "submission":
            self._on_submission(line.item())
        for notification in self._stream.feed_line(line):
            self._apply(notification)
        self._explicit_end = False
        self._line_completes = False

    def finish(self) -> None:
        """The log ended: close what it left open (nothing is shown for that)."""
        for notification in self._stream.finish():
            self._apply(notification)

    def close_open_turn(self) -> None:
        """The turn the folded lines leave open will not go on: the process that ran it
        stopped before writing its end (a resumed session's last turn, cut off by a
        crash or kill -9). It is not running, and nothing it asked waits for an answer."""
        if not self.status.turn_running:
            return
        self._drop_unfinished_streams()
        self.status.turn_running = False
        self.pending.clear()
        self.questions.clear()

    def take_dirty_from(self) -> int | None:
        """The first cell index changed (added, updated or removed) since the last call."""
        dirty, self._dirty_from = self._dirty_from, None
        return dirty

    # -- cell bookkeeping --------------------------------------------------------------

    def _mark(self, index: int) -> None:
        if self._dirty_from is None or index < self._dirty_from:
            self._dirty_from = index

    def _append(self, cell: tc.Cell, key: str | None = None) -> int:
        index = len(self.cells)
        self.cells.append(cell)
        if key:
            self._by_key[key] = index
        self._mark(index)
        return index

    def _changed(self, index: int) -> None:
        self.cells[index].touch()
        self._mark(index)

    def _truncate(self, size: int) -> None:
        if size >= len(self.cells):
            return
        del self.cells[size:]
        self._mark(size)
        self._by_key = {key: i for key, i in self._by_key.items() if i < size}
        self._streaming = {key: i for key, i in self._streaming.items() if i < size}
        self._turn_starts = [i for i in self._turn_starts if i < size]

    def remove_cell(self, index: int) -> None:
        """Remove one cell (a streamed one that is re-placed or dropped, or one that an
        earlier page of the file takes over)."""
        del self.cells[index]
        self._mark(index)

        def shift(table: dict[str, int]) -> dict[str, int]:
            return {k: (i - 1 if i > index else i) for k, i in table.items() if i != index}

        self._by_key = shift(self._by_key)
        self._streaming = shift(self._streaming)
        self._turn_starts = [i - 1 if i > index else i for i in self._turn_starts if i != index]

    # -- lines the exec fold does not read ---------------------------------------------

    def _on_session_meta(self, meta: Any) -> None:
        """A fork or revert segment continues its parent's lines (``history_base``): where
        its own ``session_meta`` comes, the transcript says so. Otherwise only the first
        meta counts (older forks copied their parent's lines, metas included)."""
        if not isinstance(meta, SessionMeta):
            return
        continues = not isinstance(meta.history_base, msgspec.UnsetType)
        # The same meta seen again (a fork's file has it before its first turn, and the
        # fork publishes it live with that turn) says nothing new. A revert segment
        # repeats its thread's id with a history base of its own.
        seen = (meta.id, msgspec.json.encode(meta.history_base) if continues else b"")
        if seen in self._seen_metas:
            return
        first = not self._seen_metas
        self._seen_metas.add(seen)
        forked_from = meta.forked_from_id if isinstance(meta.forked_from_id, str) else None
        if not (first or continues):
            return
        self.status.thread_id = meta.id
        if forked_from and forked_from != meta.id:
            self.status.forked_from_id = forked_from
            self._append(tc.InfoCell(kind=tc.InfoKind.FORKED,
                                     text=f"Thread forked from {forked_from}"))
        elif continues:
            self._append(tc.InfoCell(kind=tc.InfoKind.ROLLED_BACK, text=_ROLLED_BACK_TEXT))

    def _on_turn_context(self, context: Any) -> None:
        if not isinstance(context, TurnContext):
            return
        status = self.status
        status.model = context.model
        status.cwd = context.cwd
        policy = context.approval_policy
        status.approval_policy = policy if isinstance(policy, str) else ""
        status.sandbox = sandbox_name(context.sandbox_policy)
        mode = context.collaboration_mode
        if isinstance(mode, dict) and isinstance(mode.get("mode"), str):
            status.collaboration_mode = mode["mode"]

    def _before_event(self, payload_type: str | None, line: RolloutLine) -> None:
        payload = line.item()
        if payload_type in ("task_started", "turn_started"):
            self.status.turn_running = True
            if isinstance(payload, TaskStarted):
                self._turn_id = payload.turn_id
        elif isinstance(payload, TaskComplete):
            self.status.turn_running = False
            self._explicit_end = True
            duration = payload.duration_ms
            self._end_duration_ms = duration if isinstance(duration, int) else None
        elif payload_type == "turn_aborted":
            self.status.turn_running = False
            self._explicit_end = True
            self._end_duration_ms = None
            self.pending.clear()
            self.questions.clear()
        elif isinstance(payload, TokenCount):
            self._on_token_count(payload)
        elif isinstance(payload, ThreadRolledBack):
            self._roll_back(payload.num_turns)
        elif isinstance(payload, ThreadNameUpdated):
            name = payload.thread_name if isinstance(payload.thread_name, str) else None
            self.status.thread_name = name
            if name:
                self._append(tc.InfoCell(kind=tc.InfoKind.RENAMED,
                                         text=f"Thread renamed to {name}"))
        elif isinstance(payload, ExecApprovalRequest):
            reason = payload.reason if isinstance(payload.reason, str) else None
            self._pend(PendingApproval(
                call_id=payload.answer_id(), kind="exec", turn_id=payload.turn_id,
                command=join_command(payload.command), cwd=payload.cwd, reason=reason,
            ))
        elif isinstance(payload, ApplyPatchApprovalRequest):
            reason = payload.reason if isinstance(payload.reason, str) else None
            self._pend(PendingApproval(
                call_id=payload.call_id, kind="patch", turn_id=payload.turn_id,
                reason=reason, targets=tuple(sorted(payload.changes)),
            ))
        elif isinstance(payload, ElicitationRequest):
            schema = payload.schema()
            has_fields = isinstance(schema, dict) and bool(schema.get("properties"))
            self._pend(PendingApproval(
                call_id=str(payload.id), kind="mcp", turn_id="", reason=payload.text(),
                server=payload.server_name, form=schema if has_fields else None,
            ))
        elif isinstance(payload, RequestUserInput):
            self.questions[payload.turn_id] = payload

    def _pend(self, request: PendingApproval) -> None:
        self.pending[request.call_id] = request

    def _on_token_count(self, payload: TokenCount) -> None:
        info = payload.info
        if info is None:
            return
        self.status.total_tokens = info.total_token_usage.total_tokens
        self.status.total_usage = info.total_token_usage
        self.status.context_tokens = info.last_token_usage.total_tokens
        if info.model_context_window is not None:
            self.status.context_window = info.model_context_window

    def _on_submission(self, record: Any) -> None:
        if not isinstance(record, SubmissionRecord):
            return
        op = record.op
        if isinstance(op, ExecApproval | PatchApproval):
            self.pending.pop(op.id, None)
        elif isinstance(op, ResolveElicitation):
            self.pending.pop(str(op.request_id), None)
        elif isinstance(op, UserInputAnswer):
            asked = self.questions.pop(op.id, None)
            if asked is not None:
                self._append(tc.InfoCell(kind=tc.InfoKind.ANSWERED,
                                         text=answered_text(asked, op.response)))

    def _roll_back(self, num_turns: int) -> None:
        if num_turns <= 0:
            return
        starts = self._turn_starts
        if num_turns <= len(starts):
            self._truncate(starts[-num_turns])
        else:
            self.rollback_before_start += num_turns - len(starts)
            self._truncate(0)
        files, self._reverted_files = self._reverted_files, 0
        text = _ROLLED_BACK_TEXT if not files else _REVERTED_TEXT.format(
            files=f"{files} file{'s' if files != 1 else ''}")
        self._append(tc.InfoCell(kind=tc.InfoKind.ROLLED_BACK, text=text))

    def _on_delta(self, payload: Any) -> None:
        if isinstance(payload, AgentMessageContentDelta):
            self._stream_text("agent:" + payload.item_id, payload.item_id, payload.delta,
                              agent=True)
        elif isinstance(payload, ReasoningContentDelta):
            self._stream_text("reasoning:" + payload.item_id, payload.item_id, payload.delta,
                              agent=False, part=payload.summary_index)
        elif isinstance(payload, ExecCommandOutputDelta):
            index = self._by_key.get("tool:" + payload.call_id)
            if index is None:
                return
            cell = self.cells[index]
            if isinstance(cell, tc.CommandCell) and cell.status is ei.ItemStatus.IN_PROGRESS:
                try:
                    text = base64.b64decode(payload.chunk).decode("utf-8", "replace")
                except ValueError:
                    return
                cell.output = (cell.output + text)[-LIVE_OUTPUT_CHARS:]
                self._changed(index)

    def _stream_text(
        self, key: str, item_id: str, delta: str, *, agent: bool, part: int = 0
    ) -> None:
        index = self._streaming.get(key)
        if index is None:
            cell: tc.Cell
            if agent:
                cell = tc.AgentCell(item_id=item_id, text=delta, streaming=True)
            else:
                cell = tc.ReasoningCell(item_id=item_id, text=delta, streaming=True)
            self._streaming[key] = self._append(cell)
            self._stream_parts[key] = part
            return
        cell = self.cells[index]
        assert isinstance(cell, tc.AgentCell | tc.ReasoningCell)
        if self._stream_parts.get(key, part) != part:
            cell.text += "\n\n"
            self._stream_parts[key] = part
        cell.text += delta
        self._changed(index)

    def _finish_stream(self, key: str, cell: tc.AgentCell | tc.ReasoningCell) -> None:
        """Put the completed ``cell`` where the file would put it, replacing its stream."""
        index = self._streaming.pop(key, None)
        self._stream_parts.pop(key, None)
        if index is not None:
            self.remove_cell(index)
        self._append(cell)

    def _drop_unfinished_streams(self) -> None:
        for index in sorted(self._streaming.values(), reverse=True):
            self.remove_cell(index)
        self._streaming.clear()
        self._stream_parts.clear()

    # -- the exec fold's notifications -------------------------------------------------

    def _apply(self, n: ei.ExecNotification) -> None:
        if isinstance(n, ei.ExecItemStarted):
            self._item(n.item, started=True)
        elif isinstance(n, ei.ExecItemCompleted):
            self._item(n.item, started=False)
            item = n.item
            if isinstance(item, ei.ExecFileChangeItem) and item.status is ei.ItemStatus.COMPLETED \
                    and item.id.startswith(REVERT_ITEM_PREFIX):
                # The rollback that comes next reverted these files.
                self._reverted_files = len(item.changes)
        elif isinstance(n, ei.PlanUpdated):
            self._append(tc.PlanCell(explanation=n.explanation, steps=list(n.steps)))
        elif isinstance(n, ei.TurnDiffUpdated):
            self.turn_diff = n.diff
        elif isinstance(n, ei.Notice):
            notice = tc.NoticeCell(kind=n.kind, message=n.message, details=n.details)
            if n.kind is ei.NoticeKind.STREAM_ERROR:
                self._retrying(notice)
            else:
                self._append(notice)
        elif isinstance(n, ei.ApprovalRequested):
            self._append(
                tc.ApprovalCell(call_id=n.call_id, subject=n.subject, summary=n.summary,
                                cwd=n.cwd, reason=n.reason),
                "approval:" + n.call_id,
            )
        elif isinstance(n, ei.ApprovalDecided):
            self._decided(n)
        elif isinstance(n, ei.EscalationRecorded):
            self._append(tc.EscalationCell(call_id=n.call_id, command=n.command,
                                           permissions=n.permissions, reason=n.reason))
        elif isinstance(n, ei.TurnEnded):
            self._turn_ended(n)

    def _decided(self, n: ei.ApprovalDecided) -> None:
        key = "approval:" + n.call_id
        index = self._by_key.get(key)
        if index is None:
            self.continued_keys.add(key)
            self._append(tc.ApprovalCell(call_id=n.call_id, subject=n.subject, summary="",
                                         decision=n.decision), key)
            return
        cell = self.cells[index]
        assert isinstance(cell, tc.ApprovalCell)
        cell.decision = n.decision
        self._changed(index)

    def _retrying(self, notice: tc.NoticeCell) -> None:
        """A reconnect (``Reconnecting... 2/5``): one line that each retry of the turn
        replaces and the turn's end removes, as Codex shows it in its status indicator
        rather than in the history; a turn that fails for good says why in its error."""
        index = self._by_key.get(_RETRY_KEY)
        if index is None:
            self._append(notice, _RETRY_KEY)
            return
        self.cells[index] = notice
        self._mark(index)

    def _turn_ended(self, n: ei.TurnEnded) -> None:
        retry = self._by_key.get(_RETRY_KEY)
        if retry is not None:
            self.remove_cell(retry)
        self._drop_unfinished_streams()
        if not self._explicit_end or n.status is ei.ExecTurnStatus.UNFINISHED:
            return
        if n.status is ei.ExecTurnStatus.FAILED and self._error_shown(n.error):
            # The error the turn failed with is on screen already (its ``error`` event):
            # said once, as Codex's TUI says it.
            return
        duration = self._end_duration_ms if n.status is ei.ExecTurnStatus.COMPLETED else None
        self._append(tc.TurnEndCell(status=n.status, error=n.error, duration_ms=duration))

    def _error_shown(self, message: str | None) -> bool:
        """An error notice of the turn being ended says ``message``."""
        start = self._turn_starts[-1] if self._turn_starts else 0
        return message is not None and any(
            isinstance(cell, tc.NoticeCell) and cell.kind is ei.NoticeKind.ERROR
            and cell.message == message for cell in self.cells[start:])

    def _item(self, item: ei.ExecItem, *, started: bool) -> None:
        if isinstance(item, ei.ExecUserMessageItem):
            self._turn_starts.append(self._append(tc.UserCell(text=item.text,
                                                              turn_id=self._turn_id)))
        elif isinstance(item, ei.ExecAgentMessageItem):
            self._finish_stream("agent:" + item.id,
                                tc.AgentCell(item_id=item.id, text=item.text))
        elif isinstance(item, ei.ExecReasoningItem):
            text = "\n\n".join(part for part in item.summary if part)
            self._finish_stream("reasoning:" + item.id,
                                tc.ReasoningCell(item_id=item.id, text=text))
        elif isinstance(item, ei.ExecPlanItem):
            self._append(tc.PlanCell(explanation=item.text, steps=[]))
        elif isinstance(item, ei.CompactionItem):
            self._append(tc.InfoCell(kind=tc.InfoKind.COMPACTED, text="Context compacted"))
        else:
            self._tool(item, started=started)

    def _tool(self, item: ei.ExecItem, *, started: bool) -> None:
        cell = _tool_cell(item)
        if cell is None:
            return
        if isinstance(cell, tc.PatchCell):
            cell.cwd = self.status.cwd
        if started:
            _mark_running(cell)
        key = "tool:" + cell.call_id
        index = self._by_key.get(key)
        if index is None:
            if self._line_completes and cell.call_id:
                # Completed by this line with no start seen: started (if at all) before
                # this fold's first line, or the log keeps only completions (Codex).
                self.continued_keys.add(key)
            self._append(cell, key if cell.call_id else None)
            return
        if started:
            return
        cell.revision = self.cells[index].revision + 1
        self.cells[index] = cell
        self._mark(index)


def _mark_running(cell: tc.CommandCell | tc.PatchCell | tc.ToolCell) -> None:
    """A started item is running, whatever status its start spelled (Codex writes
    ``inProgress`` on turn items)."""
    cell.status = ei.ItemStatus.IN_PROGRESS


def _tool_cell(item: ei.ExecItem) -> tc.CommandCell | tc.PatchCell | tc.ToolCell | None:
    if isinstance(item, ei.CommandItem):
        return tc.CommandCell(
            call_id=item.id, command=join_command(item.command), cwd=item.cwd,
            status=item.status, output=item.aggregated_output or "",
            exit_code=item.exit_code, duration_ms=item.duration_ms,
            source="user" if item.by_user else "agent",
        )
    if isinstance(item, ei.ExecFileChangeItem):
        return tc.PatchCell(call_id=item.id, changes=list(item.changes), status=item.status)
    if isinstance(item, ei.ExecMcpToolCallItem):
        return tc.ToolCell(call_id=item.id, kind="mcp", title=f"{item.server}/{item.tool}",
                           status=item.status, detail=item.error)
    if isinstance(item, ei.ExecWebSearchItem):
        return tc.ToolCell(call_id=item.id, kind="web_search", title=item.query,
                           status=ei.ItemStatus.COMPLETED)
    return None


def fold_lines(lines: Iterable[RolloutLine]) -> TranscriptFold:
    """The transcript of ``lines`` (a whole log, or a part of one), finished."""
    fold = TranscriptFold()
    fold.feed_lines(lines)
    fold.finish()
    return fold


__all__ = [
    "CONTEXT_BASELINE_TOKENS",
    "PendingApproval",
    "SessionStatus",
    "TranscriptFold",
    "fold_lines",
    "sandbox_name",
]
