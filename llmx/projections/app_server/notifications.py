"""The app-server's v2 notifications as a fold over rollout lines.

A live thread's connection feeds this fold the lines its subscription publishes; a test
feeds it a finished rollout. Both get the same messages, so what a client was sent is
what a replay of the log says it was sent. Streaming deltas are published but persisted
only with ``[rollout] persist_deltas``: a fold of a file written without them lacks the
``*/delta`` notifications and nothing else.

Items the runtime records only when complete (user and agent messages, reasoning) are
announced with ``item/started`` just before their first delta or their completion, as
Codex announces them. A command waiting for approval is announced when the request is,
and completed as ``declined`` when the decision refuses it, which is what Codex 0.169
sends; the ``declined`` item llmx records after that is then not sent again.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

import msgspec
from msgspec import UNSET

from llmx.events.event_msgs import (
    AgentMessageContentDelta,
    ApplyPatchApprovalRequest,
    ElicitationRequest,
    ErrorEvent,
    ExecApprovalRequest,
    ExecCommandOutputDelta,
    ItemCompleted,
    ItemStarted,
    PlanUpdate,
    ReasoningContentDelta,
    RequestUserInput,
    StreamError,
    TaskComplete,
    TaskStarted,
    ThreadNameUpdated,
    ThreadRolledBack,
    TokenCount,
    TurnAborted,
    TurnDiff,
    WarningEvent,
)
from llmx.events.lines import RolloutLine
from llmx.events.ops import (
    ExecApproval,
    PatchApproval,
    ResolveElicitation,
    UserInputAnswer,
    plain_decision,
)
from llmx.events.primitives import TokenUsage, UnknownCommand
from llmx.events.records import SessionMeta, SubmissionRecord
from llmx.events.turn_items import (
    AgentMessageItem,
    CommandExecutionItem,
    CommandExecutionStatus,
    FileChangeItem,
    PatchApplyStatus,
)
from llmx.projections.app_server.messages import (
    Notification,
    RequestResolved,
    ServerRequest,
    WireMessage,
)
from llmx.projections.app_server.turn_diff import TurnDiffs
from llmx.projections.app_server.wire_items import (
    WireItem,
    camel_case,
    command_action,
    plain_path,
    started_view,
    wire_item,
    with_times,
)
from llmx.projections.shell_escape import join_command

# The decisions llmx can carry out; Codex also offers an exec-policy amendment.
COMMAND_DECISIONS = ["accept", "acceptForSession", "decline", "cancel"]
# The core decisions that let a command or patch go ahead.
_APPROVING = frozenset({"approved", "approved_for_session"})
_TURN_ERROR_INFOS = frozenset({
    "contextWindowExceeded", "sessionBudgetExceeded", "usageLimitExceeded",
    "rateLimitExceeded", "serverOverloaded", "modelNotFound", "internalServerError",
    "unauthorized", "badRequest", "sandboxError", "other",
})
# A namespace for read-state revisions: derived from the turn, so a replay equals live.
_REVISIONS = uuid.UUID("6f1c2d3e-4b5a-4c6d-8e7f-a0b1c2d3e4f5")


def line_millis(line: RolloutLine) -> int | None:
    """The line's timestamp in Unix milliseconds (None when it has none)."""
    if not line.timestamp:
        return None
    try:
        return int(datetime.fromisoformat(line.timestamp).timestamp() * 1000)
    except ValueError:
        return None


def token_breakdown(usage: TokenUsage) -> dict[str, int]:
    cache_write = usage.cache_write_input_tokens
    return {
        "totalTokens": usage.total_tokens,
        "inputTokens": usage.input_tokens,
        "cachedInputTokens": usage.cached_input_tokens,
        "cacheWriteInputTokens": 0 if cache_write is UNSET else cache_write,
        "outputTokens": usage.output_tokens,
        "reasoningOutputTokens": usage.reasoning_output_tokens,
    }


def turn_error(message: str, info: Any, details: Any = None) -> dict[str, Any]:
    """A v2 ``TurnError``; the core's snake_case error kind becomes the wire's name."""
    name = camel_case(info) if isinstance(info, str) else "other"
    return {
        "message": message,
        "codexErrorInfo": name if name in _TURN_ERROR_INFOS else "other",
        "additionalDetails": details if isinstance(details, str) else None,
    }


def status_changed(thread_id: str, status: str, flags: list[str] | None = None) -> Notification:
    body: dict[str, Any] = {"type": status}
    if flags is not None:
        body["activeFlags"] = flags
    return Notification("thread/status/changed", {"threadId": thread_id, "status": body})


class OpenTurn:
    """What the fold knows of the turn in progress."""

    def __init__(self, turn_id: str, started_at: int | None) -> None:
        self.id = turn_id
        self.started_at = started_at
        # Completed items, in order: ``thread/read`` shows them all.
        self.items: list[WireItem] = []
        self.final_message: WireItem | None = None
        self.failed = False

    def wire(self, status: str, *, items: list[WireItem] | None = None,
             view: str = "notLoaded", error: dict[str, Any] | None = None,
             completed_at: int | None = None, duration_ms: int | None = None
             ) -> dict[str, Any]:
        return {
            "id": self.id, "rootTurnId": self.id, "items": items or [], "itemsView": view,
            "status": status, "error": error, "startedAt": self.started_at,
            "completedAt": completed_at, "durationMs": duration_ms,
        }


class AppServerFold:
    """Incremental fold: :meth:`feed` one rollout line, get the messages it causes."""

    def __init__(self, thread_id: str = "") -> None:
        self.thread_id = thread_id
        self.meta: SessionMeta | None = None
        self.turn: OpenTurn | None = None
        # Every finished turn as ``thread/read`` shows it (items in full).
        self.turns: list[dict[str, Any]] = []
        self._started: dict[str, tuple[WireItem, int | None]] = {}
        self._completed: set[str] = set()
        # Commands announced with their approval request, not yet run or refused.
        self._awaiting: set[str] = set()
        self._summary_parts: dict[str, int] = {}
        self._diffs: TurnDiffs | None = None
        # A rollout with ``turn_diff`` lines of its own: those are sent, none rebuilt.
        self._recorded_diffs = False
        # The last ``thread/tokenUsage/updated`` (its params, the turn that was running
        # when it was recorded): what Codex tells a client that resumes or forks the
        # thread, after its answer.
        self.token_usage: dict[str, Any] | None = None

    # -- entry point ---------------------------------------------------------------------

    def feed(self, line: RolloutLine) -> list[WireMessage]:
        if line.type not in ("event_msg", "session_meta", "submission"):
            return []
        payload = line.item()
        out: list[WireMessage] = []
        if isinstance(payload, SessionMeta):
            if self.meta is None:
                self.meta = payload
                self.thread_id = self.thread_id or payload.id
        elif isinstance(payload, SubmissionRecord):
            self._on_submission(payload, out)
        elif isinstance(payload, TaskStarted):
            self._on_task_started(payload, out)
        elif isinstance(payload, ItemStarted):
            self._start_item(wire_item(payload.item), _ms(payload.started_at_ms), out)
        elif isinstance(payload, ItemCompleted):
            self._on_item_completed(payload, line, out)
        elif isinstance(payload, AgentMessageContentDelta):
            self._on_agent_delta(payload, out)
        elif isinstance(payload, ReasoningContentDelta):
            self._on_reasoning_delta(payload, out)
        elif isinstance(payload, ExecCommandOutputDelta):
            self._on_output_delta(payload, out)
        elif isinstance(payload, TokenCount):
            self._on_token_count(payload, out)
        elif isinstance(payload, ExecApprovalRequest):
            self._on_exec_approval(payload, line, out)
        elif isinstance(payload, ApplyPatchApprovalRequest):
            self._on_patch_approval(payload, line, out)
        elif isinstance(payload, ElicitationRequest):
            self._on_elicitation(payload, out)
        elif isinstance(payload, RequestUserInput):
            self._on_user_input(payload, out)
        elif isinstance(payload, TaskComplete):
            self._on_task_complete(payload, out)
        elif isinstance(payload, TurnAborted):
            self._on_turn_aborted(payload, out)
        elif isinstance(payload, ErrorEvent):
            self._on_error(payload.message, payload.codex_error_info, None, False, out)
        elif isinstance(payload, StreamError):
            self._on_error(payload.message, payload.codex_error_info,
                           payload.additional_details, True, out)
        elif isinstance(payload, WarningEvent):
            out.append(Notification("warning",
                                    {"threadId": self.thread_id, "message": payload.message}))
        elif isinstance(payload, ThreadNameUpdated):
            name = None if payload.thread_name is UNSET else payload.thread_name
            out.append(Notification("thread/name/updated",
                                    {"threadId": self.thread_id, "threadName": name}))
        elif isinstance(payload, ThreadRolledBack):
            # As Codex's thread history: the last N turns leave what thread/read shows.
            keep = max(len(self.turns) - max(payload.num_turns, 0), 0)
            del self.turns[keep:]
        elif isinstance(payload, TurnDiff):
            self._recorded_diffs = True
            self._turn_scoped("turn/diff/updated", {"diff": payload.unified_diff}, out)
        elif isinstance(payload, PlanUpdate):
            plan = [{"step": s.step, "status": camel_case(s.status)} for s in payload.plan]
            explanation = None if payload.explanation is UNSET else payload.explanation
            self._turn_scoped("turn/plan/updated", {"explanation": explanation, "plan": plan},
                              out)
        return out

    # -- turns ---------------------------------------------------------------------------

    def _turn_id(self) -> str:
        return self.turn.id if self.turn is not None else ""

    def _turn_scoped(self, method: str, params: dict[str, Any], out: list[WireMessage]) -> None:
        if self.turn is not None:
            out.append(Notification(method, {"threadId": self.thread_id,
                                             "turnId": self.turn.id, **params}))

    def _on_task_started(self, payload: TaskStarted, out: list[WireMessage]) -> None:
        started = None if payload.started_at is UNSET else payload.started_at
        self.turn = OpenTurn(payload.turn_id, started)
        self._started.clear()
        self._completed.clear()
        self._awaiting.clear()
        self._summary_parts.clear()
        self._diffs = None
        out.append(status_changed(self.thread_id, "active", []))
        out.append(Notification("turn/started", {"threadId": self.thread_id,
                                                 "turn": self.turn.wire("inProgress")}))

    def _end_turn(self, out: list[WireMessage], status: str, *, error: dict[str, Any] | None,
                  completed_at: int | None, duration_ms: int | None) -> None:
        turn = self.turn
        if turn is None:
            return
        summary = [turn.final_message] if status == "completed" and turn.final_message else []
        out.append(Notification("thread/readState/changed", {
            "threadId": self.thread_id,
            "readState": {"firstUnread": {"type": "turn", "turnId": turn.id},
                          "revision": str(uuid.uuid5(_REVISIONS, turn.id))},
        }))
        if not turn.failed:
            out.append(status_changed(self.thread_id, "idle"))
        done = turn.wire(status, items=summary, view="summary" if summary else "notLoaded",
                         error=error, completed_at=completed_at, duration_ms=duration_ms)
        out.append(Notification("turn/completed", {"threadId": self.thread_id, "turn": done}))
        self.turns.append({**done, "items": turn.items, "itemsView": "full"})
        self.turn = None

    def _on_task_complete(self, payload: TaskComplete, out: list[WireMessage]) -> None:
        error = None
        if isinstance(payload.error, dict):
            message = payload.error.get("message")
            error = turn_error(message if isinstance(message, str) else "",
                               payload.error.get("codex_error_info"))
        self._end_turn(out, "failed" if error is not None else "completed", error=error,
                       completed_at=_ms(payload.completed_at),
                       duration_ms=_ms(payload.duration_ms))

    def _on_turn_aborted(self, payload: TurnAborted, out: list[WireMessage]) -> None:
        self._end_turn(out, "interrupted", error=None, completed_at=_ms(payload.completed_at),
                       duration_ms=_ms(payload.duration_ms))

    def _on_error(self, message: str, info: Any, details: Any, will_retry: bool,
                  out: list[WireMessage]) -> None:
        error = turn_error(message, None if info is UNSET else info,
                           None if details is UNSET else details)
        if not will_retry and self.turn is not None:
            self.turn.failed = True
            out.append(status_changed(self.thread_id, "systemError"))
        out.append(Notification("error", {"error": error, "willRetry": will_retry,
                                          "threadId": self.thread_id,
                                          "turnId": self._turn_id()}))

    # -- items ---------------------------------------------------------------------------

    def _start_item(self, item: WireItem, started_ms: int | None,
                    out: list[WireMessage]) -> None:
        if item["id"] in self._started:
            return
        self._started[item["id"]] = (item, started_ms)
        view = with_times(started_view(item), started_ms, None)
        self._turn_scoped("item/started", {"item": view, "startedAtMs": started_ms or 0}, out)

    def _complete_item(self, item: WireItem, completed_ms: int | None,
                       out: list[WireMessage]) -> None:
        started_ms = self._started.get(item["id"], (item, completed_ms))[1]
        full = with_times(item, started_ms, completed_ms)
        self._completed.add(item["id"])
        self._awaiting.discard(item["id"])
        if self.turn is not None:
            self.turn.items.append(full)
            if item["type"] == "agentMessage" and item["phase"] in (None, "final_answer"):
                self.turn.final_message = full
        self._turn_scoped("item/completed", {"item": full, "contentTokenCount": None,
                                              "completedAtMs": completed_ms or 0}, out)

    def _on_item_completed(self, payload: ItemCompleted, line: RolloutLine,
                           out: list[WireMessage]) -> None:
        item = wire_item(payload.item)
        if item["id"] in self._completed and item.get("status") == "declined":
            return  # completed as declined when the refusal was submitted
        completed = _ms(payload.completed_at_ms) or line_millis(line)
        started = _ms(payload.started_at_ms) or completed
        self._start_item(item, started, out)
        self._complete_item(item, completed, out)
        if isinstance(payload.item, FileChangeItem) and not self._recorded_diffs:
            if self._diffs is None:
                self._diffs = TurnDiffs(self.meta.cwd if self.meta is not None else "")
            diff = self._diffs.applied(payload.item)
            if diff is not None:
                self._turn_scoped("turn/diff/updated", {"diff": diff}, out)

    def _on_agent_delta(self, payload: AgentMessageContentDelta, out: list[WireMessage]) -> None:
        if payload.item_id not in self._started:
            empty = AgentMessageItem(id=payload.item_id, content=[])
            self._start_item(wire_item(empty), None, out)
        self._turn_scoped("item/agentMessage/delta",
                          {"itemId": payload.item_id, "delta": payload.delta}, out)

    def _on_reasoning_delta(self, payload: ReasoningContentDelta, out: list[WireMessage]) -> None:
        if payload.item_id not in self._started:
            self._start_item({"type": "reasoning", "id": payload.item_id, "summary": [],
                              "content": []}, None, out)
        seen = self._summary_parts.get(payload.item_id, -1)
        if payload.summary_index > seen:
            self._summary_parts[payload.item_id] = payload.summary_index
            self._turn_scoped("item/reasoning/summaryPartAdded",
                              {"itemId": payload.item_id,
                               "summaryIndex": payload.summary_index}, out)
        self._turn_scoped("item/reasoning/summaryTextDelta",
                          {"itemId": payload.item_id, "delta": payload.delta,
                           "summaryIndex": payload.summary_index}, out)

    def _on_output_delta(self, payload: ExecCommandOutputDelta, out: list[WireMessage]) -> None:
        try:
            text = base64.b64decode(payload.chunk).decode("utf-8", "replace")
        except ValueError:
            return
        self._turn_scoped("item/commandExecution/outputDelta",
                          {"itemId": payload.call_id, "delta": text}, out)

    def _on_token_count(self, payload: TokenCount, out: list[WireMessage]) -> None:
        info = payload.info
        if info is None:
            return
        usage = {"total": token_breakdown(info.total_token_usage),
                 "last": token_breakdown(info.last_token_usage),
                 "modelContextWindow": info.model_context_window}
        self._turn_scoped("thread/tokenUsage/updated", {"tokenUsage": usage}, out)
        if self.turn is not None:
            self.token_usage = {"threadId": self.thread_id, "turnId": self.turn.id,
                                "tokenUsage": usage}
        out.append(Notification("account/rateLimits/updated", {"rateLimits": {
            "limitId": "codex", "limitName": None, "normalModelSlug": None, "primary": None,
            "secondary": None, "credits": None, "individualLimit": None,
            "spendControlReached": None, "planType": None, "rateLimitReachedType": None,
        }}))

    # -- approvals -----------------------------------------------------------------------

    def _waiting(self, out: list[WireMessage]) -> None:
        out.append(status_changed(self.thread_id, "active", ["waitingOnApproval"]))

    def _on_exec_approval(self, payload: ExecApprovalRequest, line: RolloutLine,
                          out: list[WireMessage]) -> None:
        asked_ms = line_millis(line) or 0
        parsed = payload.parsed_cmd or [UnknownCommand(cmd=join_command(payload.command))]
        self._waiting(out)
        if payload.call_id not in self._started:
            pending = CommandExecutionItem(
                id=payload.call_id, command=payload.command, cwd=payload.cwd,
                parsed_cmd=parsed, source="agent", status=CommandExecutionStatus.IN_PROGRESS,
            )
            self._start_item(wire_item(pending), asked_ms, out)
            self._awaiting.add(payload.call_id)
        params: dict[str, Any] = {
            "kind": "command", "threadId": self.thread_id,
            "turnId": payload.turn_id or self._turn_id(), "itemId": payload.call_id,
            "startedAtMs": asked_ms, "environmentId": "local",
        }
        if payload.reason is not UNSET:
            params["reason"] = payload.reason
        params.update({
            "command": join_command(payload.command), "cwd": plain_path(payload.cwd),
            "commandActions": [command_action(p) for p in parsed],
        })
        if payload.proposed_execpolicy_amendment is not UNSET:
            params["proposedExecpolicyAmendment"] = payload.proposed_execpolicy_amendment
        params["availableDecisions"] = list(COMMAND_DECISIONS)
        out.append(ServerRequest("item/commandExecution/requestApproval", params,
                                 self.thread_id, payload.answer_id()))

    def _on_patch_approval(self, payload: ApplyPatchApprovalRequest, line: RolloutLine,
                           out: list[WireMessage]) -> None:
        asked_ms = line_millis(line) or 0
        # Codex announces the patch first, then waits (for a command, the other way round).
        pending = FileChangeItem(id=payload.call_id, changes=payload.changes,
                                 status=PatchApplyStatus.IN_PROGRESS)
        self._start_item(wire_item(pending), asked_ms, out)
        self._waiting(out)
        params = {
            "threadId": self.thread_id, "turnId": payload.turn_id or self._turn_id(),
            "itemId": payload.call_id, "startedAtMs": asked_ms,
            "reason": None if payload.reason is UNSET else payload.reason,
            "grantRoot": None if payload.grant_root is UNSET else payload.grant_root,
        }
        out.append(ServerRequest("item/fileChange/requestApproval", params, self.thread_id,
                                 payload.call_id))

    def _on_elicitation(self, payload: ElicitationRequest, out: list[WireMessage]) -> None:
        """An MCP server's question, as Codex forwards it: the recorded request (a form,
        with its schema; a form with no fields is a yes or no, such as an MCP tool's
        approval), answered by ``action`` and, for a form, ``content``."""
        self._waiting(out)
        turn_id = payload.turn_id if isinstance(payload.turn_id, str) else self._turn_id()
        params: dict[str, Any] = {"threadId": self.thread_id, "turnId": turn_id,
                                  "serverName": payload.server_name}
        request = payload.request
        if isinstance(request, dict) and "mode" in request:
            params["mode"] = request["mode"]
            if "_meta" in request:
                params["_meta"] = request["_meta"]
            params["message"] = request.get("message", payload.text())
            for key, wire in _ELICITATION_KEYS.items():
                if key in request:
                    params[wire] = request[key]
        else:
            # An older line: the question alone, asked as an approval is.
            params.update({"mode": "form", "_meta": {"codex_approval_kind": "mcp_tool_call"},
                           "message": payload.text(),
                           "requestedSchema": {"type": "object", "properties": {}}})
        out.append(ServerRequest("mcpServer/elicitation/request", params, self.thread_id,
                                 str(payload.id)))

    def _on_user_input(self, payload: RequestUserInput, out: list[WireMessage]) -> None:
        """The model's questions: the client is asked, as Codex asks it; the answer names
        the turn."""
        out.append(status_changed(self.thread_id, "active", ["waitingOnUserInput"]))
        questions = [msgspec.to_builtins(question) for question in payload.questions]
        turn_id = payload.turn_id or self._turn_id()
        params = {"threadId": self.thread_id, "turnId": turn_id, "itemId": payload.call_id,
                  "questions": questions, "isBlocking": True, "autoResolutionMs": None}
        out.append(ServerRequest("item/tool/requestUserInput", params, self.thread_id,
                                 turn_id))

    def _on_submission(self, record: SubmissionRecord, out: list[WireMessage]) -> None:
        op = record.op
        if isinstance(op, ResolveElicitation | UserInputAnswer):
            request_id = op.request_id if isinstance(op, ResolveElicitation) else op.id
            out.append(RequestResolved(self.thread_id, str(request_id)))
            out.append(status_changed(self.thread_id, "active", []))
            return
        if not isinstance(op, ExecApproval | PatchApproval):
            return
        out.append(RequestResolved(self.thread_id, op.id))
        approving = plain_decision(op.decision) in _APPROVING
        if op.id in self._awaiting and not approving:
            item, started_ms = self._started[op.id]
            self._complete_item({**item, "status": "declined"}, started_ms, out)
        out.append(status_changed(self.thread_id, "active", []))


# The keys of a recorded elicitation (Codex's rollout spelling) and of the request.
_ELICITATION_KEYS = {"requested_schema": "requestedSchema", "url": "url",
                     "elicitation_id": "elicitationId"}


def _ms(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def fold_rollout(lines: list[RolloutLine]) -> tuple[AppServerFold, list[WireMessage]]:
    """Every message a whole rollout gives, and the fold that gave them."""
    fold = AppServerFold()
    messages: list[WireMessage] = []
    for line in lines:
        messages.extend(fold.feed(line))
    return fold, messages
