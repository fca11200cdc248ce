"""Fold rollout lines, of any era, into exec notifications (:mod:`~llmx.projections.exec.items`).

The fold keeps just enough state to turn a log back into what ``exec`` saw live: the
canonical ``session_meta``, the latest ``turn_context`` (for the header), which turn is
open, which tool items have started, and the turn's diff. Lines it does not know (our own
``submission`` lines, new Codex record types, response items) produce nothing.

Both representations may describe the same fact (legacy ``exec_command_end`` and an
``item_completed`` ``CommandExecution``); tool items are matched by call id and messages
by text, so each is shown once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import msgspec

from llmx.events.lines import RolloutLine
from llmx.projections.diff_render import TurnDiffTracker
from llmx.projections.exec import items as ei
from llmx.projections.exec.header import build_header
from llmx.projections.shell_escape import join_command
from llmx.projections.turn_programs import TurnWriters

Notifications = list[ei.ExecNotification]
# The line types the fold reads. Every other line (response items, ``world_state``,
# ``token_usage_record``: over half of a rollout's bytes) produces nothing, so
# :meth:`ExecStream.feed_line` does not decode its payload at all.
CONSUMED_LINE_TYPES = frozenset(
    {"event_msg", "session_meta", "turn_context", "submission", "escalation", "writer",
     "decision"}
)
_payload_decoder = msgspec.json.Decoder()
# The fields a ``user_turn`` op shares with ``turn_context`` (what the header reads).
_TURN_SETTINGS = ("cwd", "approval_policy", "sandbox_policy", "model", "summary", "effort")
_TOOL_ITEMS = (ei.CommandItem, ei.FileChangeItem, ei.McpToolCallItem, ei.WebSearchItem)
_LEGACY, _ITEMS = 0, 1


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _duration_ms(value: Any) -> int | None:
    if isinstance(value, dict):
        secs, nanos = value.get("secs", 0), value.get("nanos", 0)
        if isinstance(secs, int) and isinstance(nanos, int):
            return secs * 1000 + nanos // 1_000_000
    return None


def _cwd(value: Any) -> str:
    text = _str(value)
    return unquote(text[len("file://") :]) if text.startswith("file://") else text


# Turn items spell statuses in camelCase (``inProgress``); exec prints snake_case.
_CAMEL_STATUSES = {"inProgress": ei.ItemStatus.IN_PROGRESS}


def _status(value: Any, default: ei.ItemStatus) -> ei.ItemStatus:
    if isinstance(value, str) and value in _CAMEL_STATUSES:
        return _CAMEL_STATUSES[value]
    try:
        return ei.ItemStatus(value)
    except ValueError:
        return default


def _argv(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(part) for part in value]
    return [value] if isinstance(value, str) else []


def _changes(value: Any) -> list[ei.FileChangeEntry]:
    entries: list[ei.FileChangeEntry] = []
    if not isinstance(value, dict):
        return entries
    for path, change in sorted(value.items()):
        if not isinstance(change, dict):
            continue
        move = change.get("move_path")
        entries.append(
            ei.FileChangeEntry(
                path=path,
                kind=_str(change.get("type"), "update"),
                content=change.get("content") if isinstance(change.get("content"), str) else None,
                unified_diff=_str(change.get("unified_diff")) or None,
                move_path=move if isinstance(move, str) else None,
            )
        )
    return entries


def _text_parts(content: Any) -> str:
    if not isinstance(content, list):
        return ""
    return "".join(
        _str(part.get("text")) for part in content if isinstance(part, dict) and "text" in part
    )


class ExecStream:
    """Incremental fold: ``feed(type, payload)`` per rollout line, then ``finish()``."""

    def __init__(self) -> None:
        self._meta: dict[str, Any] | None = None
        self._context: dict[str, Any] = {}
        self._model_hint = ""
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
        self._handlers: dict[str, Callable[[dict[str, Any], Notifications], None]] = {
            "task_started": self._on_task_started,
            "turn_started": self._on_task_started,
            "task_complete": self._on_task_complete,
            "turn_complete": self._on_task_complete,
            "turn_aborted": self._on_turn_aborted,
            "user_message": self._on_user_message,
            "agent_message": self._on_agent_message,
            "agent_reasoning": self._on_agent_reasoning,
            "exec_command_begin": self._on_exec_begin,
            "exec_command_end": self._on_exec_end,
            "patch_apply_begin": self._on_patch_begin,
            "patch_apply_end": self._on_patch_end,
            "mcp_tool_call_begin": self._on_mcp_begin,
            "mcp_tool_call_end": self._on_mcp_end,
            "web_search_begin": self._on_web_search_begin,
            "web_search_end": self._on_web_search_end,
            "item_started": self._on_item_started,
            "item_completed": self._on_item_completed,
            "token_count": self._on_token_count,
            "plan_update": self._on_plan_update,
            "turn_diff": self._on_turn_diff,
            "error": self._on_error,
            "warning": self._on_notice,
            "stream_error": self._on_notice,
            "deprecation_notice": self._on_notice,
            "background_event": self._on_notice,
            "context_compacted": self._on_context_compacted,
            "exec_approval_request": self._on_exec_approval,
            "apply_patch_approval_request": self._on_patch_approval,
            "elicitation_request": self._on_elicitation,
            "mcp_startup_update": self._on_mcp_startup,
        }

    # -- entry points -------------------------------------------------------------------

    def feed(self, line_type: str, payload: Any) -> Notifications:
        """Notifications caused by one rollout line (``type`` and ``payload`` of the line)."""
        out: Notifications = []
        if not isinstance(payload, dict):
            return out
        if line_type == "event_msg":
            handler = self._handlers.get(_str(payload.get("type")))
            if handler is not None:
                handler(payload, out)
        elif line_type == "session_meta":
            if self._meta is None:  # the first one is canonical; forks copy their parent's
                self._meta = payload
            self._writers.on_meta(payload)
        elif line_type == "writer":
            self._writers.on_writer(payload)
        elif line_type == "turn_context":
            self._context = payload
        elif line_type == "submission":
            self._on_submission(payload, out)
        elif line_type == "escalation":
            self._on_escalation(payload, out)
        elif line_type == "decision":
            self._on_decision(payload, out)
        return out

    def feed_line(self, line: RolloutLine) -> Notifications:
        """:meth:`feed` for a decoded line; payloads of lines the fold ignores stay raw."""
        if line.type not in CONSUMED_LINE_TYPES:
            return []
        return self.feed(line.type, _payload_decoder.decode(line.payload_raw))

    def finish(self) -> Notifications:
        """Close what the log left open: an implicit (pre-``task_started``) turn completes;
        a turn cut off mid-way is reported as unfinished."""
        out: Notifications = []
        if self._turn_open:
            status = ei.TurnStatus.UNFINISHED if self._turn_explicit else ei.TurnStatus.COMPLETED
            self._end_turn(out, status)
        return out

    @property
    def thread_id(self) -> str:
        meta = self._meta or {}
        return _str(meta.get("id")) or _str(meta.get("session_id"))

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
            header = build_header(self._meta or {}, self._context, self._model_hint, program)
            out.append(ei.TurnStarted(self._turn_id, self.thread_id, header))

    def _end_turn(
        self, out: Notifications, status: ei.TurnStatus, error: str | None = None
    ) -> None:
        self._announce(out)
        out.append(ei.TurnEnded(self._turn_id, status, error, self._last_agent_message))
        self._turn_open = False

    def _on_task_started(self, payload: dict[str, Any], out: Notifications) -> None:
        if self._turn_open:
            self._end_turn(out, ei.TurnStatus.UNFINISHED)
        self._writers.on_turn_started()
        self._open_turn(_str(payload.get("turn_id")), explicit=True)

    def _on_task_complete(self, payload: dict[str, Any], out: Notifications) -> None:
        error = payload.get("error")
        message = _str(error.get("message")) if isinstance(error, dict) else None
        last = payload.get("last_agent_message")
        if isinstance(last, str):
            self._last_agent_message = last
        if message is not None and self._turn_error is None:
            # The error notification itself is not persisted; the failed turn carries it.
            self._announce(out)
            out.append(ei.Notice(ei.NoticeKind.ERROR, message))
            self._turn_error = message
        if self._turn_error is not None:
            self._end_turn(out, ei.TurnStatus.FAILED, self._turn_error)
        else:
            self._end_turn(out, ei.TurnStatus.COMPLETED)

    def _on_turn_aborted(self, payload: dict[str, Any], out: Notifications) -> None:
        self._end_turn(out, ei.TurnStatus.INTERRUPTED)

    # -- messages (deduplicated between the two representations by text) ------------------

    def _message(self, source: int, kind: str, text: str) -> bool:
        """Whether this copy of a message is new (not the twin of one already shown)."""
        mine = self._message_counts.get((source, kind, text), 0) + 1
        self._message_counts[(source, kind, text)] = mine
        return mine > self._message_counts.get((1 - source, kind, text), 0)

    def _on_user_message(self, payload: dict[str, Any], out: Notifications) -> None:
        self._user_text(_LEGACY, _str(payload.get("message")), "", out)

    def _user_text(self, source: int, text: str, item_id: str, out: Notifications) -> None:
        if self._turn_open and not self._turn_explicit and self._turn_announced:
            self._end_turn(out, ei.TurnStatus.COMPLETED)  # eras without task_started
        if self._message(source, "user", text):
            self._announce(out)
            out.append(ei.ItemCompleted(ei.UserMessageItem(item_id, text)))

    def _agent_text(self, source: int, text: str, item_id: str, out: Notifications) -> None:
        self._last_agent_message = text
        if self._message(source, "agent", text):
            self._announce(out)
            out.append(ei.ItemCompleted(ei.AgentMessageItem(item_id, text)))

    def _on_agent_message(self, payload: dict[str, Any], out: Notifications) -> None:
        self._agent_text(_LEGACY, _str(payload.get("message")), "", out)

    def _on_agent_reasoning(self, payload: dict[str, Any], out: Notifications) -> None:
        text = _str(payload.get("text"))
        if self._message(_LEGACY, "reasoning", text):
            self._announce(out)
            out.append(ei.ItemCompleted(ei.ReasoningItem("", [text])))

    def _on_context_compacted(self, payload: dict[str, Any], out: Notifications) -> None:
        if self._message(_LEGACY, "compaction", ""):
            self._announce(out)
            out.append(ei.ItemCompleted(ei.CompactionItem("")))

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
        out.append(ei.ItemStarted(item))

    def _complete(self, item: ei.ExecItem, out: Notifications) -> None:
        if item.id and item.id in self._completed:
            return
        self._announce_item(out)
        if isinstance(item, _TOOL_ITEMS) and item.id not in self._started:
            # Paginated rollouts persist only the completion; exec showed the start too.
            out.append(ei.ItemStarted(_as_started(item)))
        self._started.discard(item.id)
        if item.id:
            self._completed.add(item.id)
        out.append(ei.ItemCompleted(item))
        if isinstance(item, ei.FileChangeItem) and item.status is ei.ItemStatus.COMPLETED:
            self._track_diff(item, out)

    def _track_diff(self, item: ei.FileChangeItem, out: Notifications) -> None:
        if self._source_has_turn_diffs:
            return
        if self._diff is None:
            self._diff = TurnDiffTracker(_str(self._context.get("cwd")))
        self._diff.apply(item.changes)
        diff = self._diff.render()
        if diff.strip():
            out.append(ei.TurnDiffUpdated(diff))

    def _on_exec_begin(self, payload: dict[str, Any], out: Notifications) -> None:
        item = ei.CommandItem(
            _str(payload.get("call_id")),
            _argv(payload.get("command")),
            _cwd(payload.get("cwd")),
            ei.ItemStatus.IN_PROGRESS,
        )
        self._start(item, out)

    def _on_exec_end(self, payload: dict[str, Any], out: Notifications) -> None:
        exit_code = payload.get("exit_code")
        code = exit_code if isinstance(exit_code, int) else None
        default = ei.ItemStatus.COMPLETED if code == 0 else ei.ItemStatus.FAILED
        output = payload.get("aggregated_output")
        if not isinstance(output, str):
            output = _str(payload.get("stdout")) + _str(payload.get("stderr"))
        item = ei.CommandItem(
            _str(payload.get("call_id")),
            _argv(payload.get("command")),
            _cwd(payload.get("cwd")),
            _status(payload.get("status"), default),
            output,
            code,
            _duration_ms(payload.get("duration")),
        )
        self._complete(item, out)

    def _on_patch_begin(self, payload: dict[str, Any], out: Notifications) -> None:
        item = ei.FileChangeItem(
            _str(payload.get("call_id")),
            _changes(payload.get("changes")),
            ei.ItemStatus.IN_PROGRESS,
        )
        self._start(item, out)

    def _on_patch_end(self, payload: dict[str, Any], out: Notifications) -> None:
        default = ei.ItemStatus.COMPLETED if payload.get("success") else ei.ItemStatus.FAILED
        item = ei.FileChangeItem(
            _str(payload.get("call_id")),
            _changes(payload.get("changes")),
            _status(payload.get("status"), default),
        )
        self._complete(item, out)

    def _on_mcp_begin(self, payload: dict[str, Any], out: Notifications) -> None:
        invocation = payload.get("invocation")
        inv = invocation if isinstance(invocation, dict) else payload
        item = ei.McpToolCallItem(
            _str(payload.get("call_id")),
            _str(inv.get("server")),
            _str(inv.get("tool")),
            inv.get("arguments"),
            ei.ItemStatus.IN_PROGRESS,
        )
        self._start(item, out)

    def _on_mcp_end(self, payload: dict[str, Any], out: Notifications) -> None:
        invocation = payload.get("invocation")
        inv = invocation if isinstance(invocation, dict) else payload
        raw = payload.get("result")
        result: Any = None
        error: str | None = None
        if isinstance(raw, dict) and "Ok" in raw:
            result = raw["Ok"]
        elif isinstance(raw, dict) and "Err" in raw:
            error = str(raw["Err"])
        failed = error is not None or (isinstance(result, dict) and bool(result.get("isError")))
        item = ei.McpToolCallItem(
            _str(payload.get("call_id")),
            _str(inv.get("server")),
            _str(inv.get("tool")),
            inv.get("arguments"),
            ei.ItemStatus.FAILED if failed else ei.ItemStatus.COMPLETED,
            result,
            error,
            _duration_ms(payload.get("duration")),
        )
        self._complete(item, out)

    def _on_web_search_begin(self, payload: dict[str, Any], out: Notifications) -> None:
        self._start(ei.WebSearchItem(_str(payload.get("call_id")), ""), out)

    def _on_web_search_end(self, payload: dict[str, Any], out: Notifications) -> None:
        item = ei.WebSearchItem(
            _str(payload.get("call_id")), _str(payload.get("query")), payload.get("action")
        )
        self._complete(item, out)

    # -- paginated turn items -------------------------------------------------------------

    def _on_item_started(self, payload: dict[str, Any], out: Notifications) -> None:
        item = _turn_item(payload.get("item"))
        if isinstance(item, _TOOL_ITEMS):
            self._start(item, out)

    def _on_item_completed(self, payload: dict[str, Any], out: Notifications) -> None:
        raw = payload.get("item")
        item = _turn_item(raw)
        if item is None:
            return
        if isinstance(item, ei.UserMessageItem):
            self._user_text(_ITEMS, item.text, item.id, out)
        elif isinstance(item, ei.AgentMessageItem):
            self._agent_text(_ITEMS, item.text, item.id, out)
        elif isinstance(item, ei.ReasoningItem):
            if self._message(_ITEMS, "reasoning", "\n".join(item.summary)):
                self._announce(out)
                out.append(ei.ItemCompleted(item))
        elif isinstance(item, ei.CompactionItem):
            if self._message(_ITEMS, "compaction", ""):
                self._announce(out)
                out.append(ei.ItemCompleted(item))
        elif isinstance(item, ei.PlanItem):
            self._announce(out)
            out.append(ei.ItemCompleted(item))
        else:
            already = bool(item.id) and item.id in self._completed
            self._complete(item, out)
            if not already:
                self._refusal(item, raw, out)

    def _refusal(self, item: ei.ExecItem, raw: Any, out: Notifications) -> None:
        """Say why a call did nothing when nobody was asked about it: the policy's
        refusal, or the error of a patch that failed (verification included)."""
        reason = self._refused_by_policy.pop(item.id, None)
        if reason is not None:
            out.append(ei.Refusal(item.id, reason))
        elif isinstance(item, ei.FileChangeItem) and item.status is ei.ItemStatus.FAILED:
            error = _str(raw.get("stderr")).strip() if isinstance(raw, dict) else ""
            if error:
                out.append(ei.Refusal(item.id, error))

    # -- accounting and notices -----------------------------------------------------------

    def _on_token_count(self, payload: dict[str, Any], out: Notifications) -> None:
        info = payload.get("info")
        if isinstance(info, dict):
            total = info.get("total_token_usage")
        elif "input_tokens" in payload:  # the earliest era: a bare usage object
            total = payload
        else:
            return
        if not isinstance(total, dict):
            return

        def count(key: str) -> int:
            value = total.get(key, 0)
            return value if isinstance(value, int) else 0

        out.append(
            ei.UsageUpdated(
                count("input_tokens"),
                count("cached_input_tokens"),
                count("cache_write_input_tokens"),
                count("output_tokens"),
                count("reasoning_output_tokens"),
            )
        )

    def _on_plan_update(self, payload: dict[str, Any], out: Notifications) -> None:
        steps: list[ei.PlanStep] = []
        for step in payload.get("plan") or []:
            if isinstance(step, dict):
                status = _str(step.get("status"), "pending").replace("inProgress", "in_progress")
                try:
                    parsed = ei.PlanStepStatus(status)
                except ValueError:
                    parsed = ei.PlanStepStatus.PENDING
                steps.append(ei.PlanStep(_str(step.get("step")), parsed))
        explanation = payload.get("explanation")
        self._announce(out)
        out.append(ei.PlanUpdated(explanation if isinstance(explanation, str) else None, steps))

    def _on_turn_diff(self, payload: dict[str, Any], out: Notifications) -> None:
        self._source_has_turn_diffs = True
        diff = _str(payload.get("unified_diff"))
        if diff.strip():
            self._announce(out)
            out.append(ei.TurnDiffUpdated(diff))

    def _on_error(self, payload: dict[str, Any], out: Notifications) -> None:
        message = _str(payload.get("message"))
        self._announce(out)
        self._turn_error = message
        out.append(ei.Notice(ei.NoticeKind.ERROR, message))

    def _on_notice(self, payload: dict[str, Any], out: Notifications) -> None:
        kind = _str(payload.get("type"))
        self._announce(out)
        if kind == "deprecation_notice":
            details = payload.get("details")
            summary = _str(payload.get("summary"))
            text = details if isinstance(details, str) else None
            out.append(ei.Notice(ei.NoticeKind.DEPRECATION, summary, text))
            return
        message = _str(payload.get("message"))
        if kind == "stream_error":
            details = _str(payload.get("additional_details")).strip()
            text = f"{message} ({details})" if details else message
            out.append(ei.Notice(ei.NoticeKind.STREAM_ERROR, text))
        elif kind == "background_event":
            out.append(ei.Notice(ei.NoticeKind.BACKGROUND, message))
        else:
            out.append(ei.Notice(ei.NoticeKind.WARNING, message))

    # -- approvals ------------------------------------------------------------------------

    def _on_exec_approval(self, payload: dict[str, Any], out: Notifications) -> None:
        reason = payload.get("reason")
        self._announce(out)
        out.append(
            ei.ApprovalRequested(
                _str(payload.get("approval_id")) or _str(payload.get("call_id")),
                "command",
                join_command(_argv(payload.get("command"))),
                _cwd(payload.get("cwd")) or None,
                reason if isinstance(reason, str) else None,
            )
        )

    def _on_patch_approval(self, payload: dict[str, Any], out: Notifications) -> None:
        reason = payload.get("reason")
        paths = ", ".join(change.path for change in _changes(payload.get("changes")))
        self._announce(out)
        out.append(
            ei.ApprovalRequested(
                _str(payload.get("call_id")), "patch", paths, None,
                reason if isinstance(reason, str) else None,
            )
        )

    def _on_submission(self, payload: dict[str, Any], out: Notifications) -> None:
        """llmx's own ``submission`` lines: approval answers are shown; a ``user_turn``
        carries the settings the turn runs with, which the header shows until the turn's
        ``turn_context`` (written when the model has the turn, so never for a turn that
        failed before it reached the model) confirms them."""
        op = payload.get("op")
        if not isinstance(op, dict):
            return
        kind = op.get("type")
        if kind == "user_turn":
            self._context = {
                key: op[key] for key in _TURN_SETTINGS if op.get(key) is not None
            }
            return
        subjects = {"exec_approval": "command", "patch_approval": "patch"}
        if kind in subjects:
            call_id, subject = _str(op.get("id")), subjects[str(kind)]
        elif kind == "resolve_elicitation":
            call_id, subject = str(op.get("request_id", "")), "mcp"
        else:
            return
        decision = op.get("decision")
        if isinstance(decision, dict):  # {"approved_execpolicy_amendment": {...}}
            decision = next(iter(decision), "")
        self._announce(out)
        out.append(ei.ApprovalDecided(call_id, _str(decision), subject,
                                      _str(payload.get("decided_by")) or None))

    def _on_decision(self, payload: dict[str, Any], out: Notifications) -> None:
        """llmx's ``decision`` lines. An answered question was shown with its
        submission; one nobody was asked is shown here: a session's earlier approval as
        an approval, a refusal by the policy with the call it refused."""
        if "submission_id" in payload:
            return
        call_id, decision = _str(payload.get("call_id")), _str(payload.get("decision"))
        decided_by = _str(payload.get("decided_by")) or None
        if decision in ("approved", "approved_for_session"):
            self._announce(out)
            out.append(ei.ApprovalDecided(call_id, decision, _str(payload.get("subject")),
                                          decided_by))
        else:
            reason = _str(payload.get("reason"))
            self._refused_by_policy[call_id] = reason or f"{decision} by the approval policy"

    def _on_escalation(self, payload: dict[str, Any], out: Notifications) -> None:
        mode = _str(payload.get("mode"), "unsandboxed")
        approver = _str(payload.get("approved_by"))
        permissions = f"{mode}, approved by {approver}" if approver else mode
        reason = payload.get("reason")
        self._announce(out)
        out.append(
            ei.EscalationRecorded(
                _str(payload.get("call_id")),
                join_command(_argv(payload.get("command"))),
                permissions,
                reason if isinstance(reason, str) else None,
            )
        )

    def _on_mcp_startup(self, payload: dict[str, Any], out: Notifications) -> None:
        """A configured MCP server's state as a turn first saw it: a server still starting
        or failed is a warning (its tools are missing from the request), a ready one a note."""
        status = payload.get("status")
        state = _str(status.get("state")) if isinstance(status, dict) else ""
        error = _str(status.get("error")) if isinstance(status, dict) else ""
        server = _str(payload.get("server") or payload.get("server_name"))
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
                f"MCP server `{server}` failed to start: {error}; its tools are not offered",
            ))

    def _on_elicitation(self, payload: dict[str, Any], out: Notifications) -> None:
        self._announce(out)
        # The question: ``message`` (older Codex, llmx) or ``request.message`` (newer Codex).
        request = payload.get("request")
        message = _str(payload.get("message")) or (
            _str(request.get("message")) if isinstance(request, dict) else "")
        out.append(
            ei.ApprovalRequested(
                str(payload.get("id", "")), "mcp", _str(payload.get("server_name")), None,
                message or None,
            )
        )


def _as_started(item: ei.ExecItem) -> ei.ExecItem:
    if isinstance(item, ei.CommandItem):
        return ei.CommandItem(item.id, item.command, item.cwd, ei.ItemStatus.IN_PROGRESS)
    if isinstance(item, ei.FileChangeItem):
        return ei.FileChangeItem(item.id, item.changes, ei.ItemStatus.IN_PROGRESS)
    if isinstance(item, ei.McpToolCallItem):
        return ei.McpToolCallItem(
            item.id, item.server, item.tool, item.arguments, ei.ItemStatus.IN_PROGRESS
        )
    if isinstance(item, ei.WebSearchItem):
        return ei.WebSearchItem(item.id, item.query, item.action)
    return item


def _turn_item(raw: Any) -> ei.ExecItem | None:
    """A Codex ``TurnItem`` (PascalCase tag) as an exec item; None for kinds exec ignores."""
    if not isinstance(raw, dict):
        return None
    kind = raw.get("type")
    item_id = _str(raw.get("id"))
    if kind == "UserMessage":
        return ei.UserMessageItem(item_id, _text_parts(raw.get("content")))
    if kind == "AgentMessage":
        return ei.AgentMessageItem(item_id, _text_parts(raw.get("content")))
    if kind == "Reasoning":
        summary = [s for s in raw.get("summary_text") or [] if isinstance(s, str)]
        content = [s for s in raw.get("raw_content") or [] if isinstance(s, str)]
        return ei.ReasoningItem(item_id, summary, content)
    if kind == "CommandExecution":
        exit_code = raw.get("exit_code")
        return ei.CommandItem(
            item_id,
            _argv(raw.get("command")),
            _cwd(raw.get("cwd")),
            _status(raw.get("status"), ei.ItemStatus.COMPLETED),
            _str(raw.get("aggregated_output")) if "aggregated_output" in raw else None,
            exit_code if isinstance(exit_code, int) else None,
            _duration_ms(raw.get("duration")),
        )
    if kind == "FileChange":
        return ei.FileChangeItem(
            item_id,
            _changes(raw.get("changes")),
            _status(raw.get("status"), ei.ItemStatus.COMPLETED),
        )
    if kind == "McpToolCall":
        error = raw.get("error")
        return ei.McpToolCallItem(
            item_id,
            _str(raw.get("server")),
            _str(raw.get("tool")),
            raw.get("arguments"),
            _status(raw.get("status"), ei.ItemStatus.COMPLETED),
            raw.get("result"),
            _str(error.get("message")) if isinstance(error, dict) else None,
            _duration_ms(raw.get("duration")),
        )
    if kind == "WebSearch":
        return ei.WebSearchItem(item_id, _str(raw.get("query")), raw.get("action"))
    if kind == "Plan":
        return ei.PlanItem(item_id, _str(raw.get("text")))
    if kind == "ContextCompaction":
        return ei.CompactionItem(item_id)
    return None
