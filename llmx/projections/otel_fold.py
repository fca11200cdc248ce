"""What a rollout means to OpenTelemetry: a pure fold from its lines to spans, log records
and metric points, with no OpenTelemetry import (the exporter turns them into OTLP).

The live exporter feeds the lines of a running thread, ``llmx otel export`` the lines of
its file; both get the same records, because every time and id comes from the lines:

- the trace id is the thread id (a UUID is 128 bits, as a trace id is), each span id is
  hashed from the thread id and the rollout's own id of the thing (turn id, call id, the
  turn's n-th model request), times are the lines' timestamps;
- spans: ``llmx.thread`` (first to last line), ``llmx.turn`` (``task_started`` to its
  ``task_complete`` or ``turn_aborted``), ``llmx.model_request`` (from its first attempt,
  or, in a file without ``model_request`` lines, the turn's start or the end of the round
  before it, to the last item the model answered with, or the request's failure; its
  ``token_count`` closes it, recorded after the outputs of the tools the response called,
  as Codex 0.169 and llmx write it, or before them, as older writers did) and
  ``llmx.tool_call`` (the call to its output; ``tool.kind`` command, patch, mcp or
  function), each the child of the one before;
- log records with Codex's event names and attributes (``codex.conversation_starts``,
  ``codex.user_prompt`` with the prompt redacted unless ``log_user_prompt``,
  ``codex.api_request`` per attempt and ``codex.sse_event`` per server-sent event, both
  from the ``model_request`` line llmx writes for each request, and one more
  ``codex.sse_event`` with the response's tokens, ``codex.tool_decision`` with who decided,
  ``codex.tool_result`` with its output capped at ``tool_result.max_bytes``, and
  ``codex.agent_response`` with ``log_agent_responses``); their values have the types
  Codex gives them: ``duration_ms``, ``prompt_length``, ``input_token_count``,
  ``output_token_count``, ``tool_token_count`` and a tool result's ``success`` are
  strings (Codex formats them), ``attempt``, ``http.response.status_code``,
  ``cached_token_count`` and ``reasoning_token_count`` integers;
- metric points: tokens per type, turn latency, tool calls and denials, API requests and
  server-sent events (count and duration).

Streamed deltas are published live but not recorded, so the fold ignores them.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec
from msgspec import UNSET, UnsetType

from llmx.events import event_msgs as em
from llmx.events import response_items as ri
from llmx.events.lines import RolloutLine
from llmx.events.nesting import DECODE_ERRORS
from llmx.events.ops import ExecApproval, PatchApproval
from llmx.events.primitives import TextInput, TokenUsage
from llmx.events.records import (
    ModelRequestRecord,
    RequestAttempt,
    SessionMeta,
    SubmissionRecord,
    TurnContextHead,
)
from llmx.events.turn_items import (
    AgentMessageItem,
    CommandExecutionItem,
    FileChangeItem,
    McpToolCallItem,
    UserMessageItem,
)

REDACTED = "[REDACTED]"


class SpanRecord(NamedTuple):
    name: str
    trace_id: int
    span_id: int
    parent_id: int | None
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    ok: bool = True


class LogRecord(NamedTuple):
    event_name: str
    time_ns: int
    trace_id: int
    span_id: int | None
    attributes: dict[str, Any]


class MetricPoint(NamedTuple):
    kind: str  # "counter" or "histogram"
    name: str
    value: float
    attributes: dict[str, Any]


Record = SpanRecord | LogRecord | MetricPoint


class FoldOptions(NamedTuple):
    log_user_prompt: bool = False
    log_agent_responses: bool = False
    tool_result_max_bytes: int | None = None
    app_version: str = ""


def _ns(stamp: Any) -> int:
    if not isinstance(stamp, str) or not stamp:
        return 0
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return 0
    return int(moment.timestamp() * 1000) * 1_000_000


def span_id_of(thread_id: str, *key: str) -> int:
    digest = hashlib.blake2b("/".join((thread_id, *key)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") or 1


def trace_id_of(thread_id: str) -> int:
    try:
        return int(thread_id.replace("-", ""), 16) or 1
    except ValueError:
        return int.from_bytes(hashlib.blake2b(thread_id.encode(), digest_size=16).digest(),
                              "big")


_TOOL_KINDS: dict[type[Any], str] = {
    CommandExecutionItem: "command", FileChangeItem: "patch", McpToolCallItem: "mcp"}
_CALLS = ("function_call", "custom_tool_call", "local_shell_call")
_OUTPUTS = ("function_call_output", "custom_tool_call_output")
_item_head_decoder = msgspec.json.Decoder(ri.ResponseItemHead)
_DENIED = ("denied", "abort")
_PEOPLE = ("user", "client", "preset")


class _Response(NamedTuple):
    """A response's ``token_count``, waiting for the ``model_request`` line that follows
    it in files llmx wrote since it records them."""

    at: int
    usage: TokenUsage


class _Turn:
    def __init__(self, turn_id: str, start: int) -> None:
        self.turn_id = turn_id
        self.start = start
        self.requests = 0
        self.request_start = start
        # The last item the model answered with since the last ``token_count`` (None:
        # none yet), which ends its request's span.
        self.response_end: int | None = None
        self.input_tokens = 0
        self.output_tokens = 0
        self.response: _Response | None = None


class _Call:
    def __init__(self, name: str, arguments: str, start: int) -> None:
        self.name = name
        self.arguments = arguments
        self.start = start
        self.kind = "function"
        self.success: bool | None = None
        self.decided = False


class OtelFold:
    """Feed lines oldest first; each call returns the records that
    became complete; :meth:`finish` closes the thread span."""

    def __init__(self, options: FoldOptions) -> None:
        self.options = options
        self.thread_id = ""
        self.trace_id = 0
        self.thread_span = 0
        self.first_ns = 0
        self.last_ns = 0
        self.model = ""
        self.originator = ""
        self.turn: _Turn | None = None
        self.calls: dict[str, _Call] = {}
        # A prompt recorded in both of its forms (a ``user_message`` event and a
        # ``UserMessage`` item) is one prompt.
        self.prompts: set[tuple[str, str]] = set()

    # -- helpers -----------------------------------------------------------------------

    def _common(self, name: str, at: int) -> dict[str, Any]:
        return {
            "event.name": name,
            "event.timestamp": datetime.fromtimestamp(at / 1e9, tz=UTC).isoformat(
                timespec="milliseconds") if at else "",
            "conversation.id": self.thread_id,
            "app.version": self.options.app_version,
            "originator": self.originator,
            "model": self.model,
            "slug": self.model,
        }

    def _log(self, name: str, at: int, span: int | None, **extra: Any) -> LogRecord:
        attributes = self._common(name, at)
        attributes.update({k: v for k, v in extra.items() if v is not None})
        return LogRecord(name, at, self.trace_id, span, attributes)

    def _turn_span(self) -> int | None:
        return span_id_of(self.thread_id, "turn", self.turn.turn_id) if self.turn else None

    # -- the fold ----------------------------------------------------------------------

    def feed(self, line: RolloutLine) -> list[Record]:
        kind = line.type
        at = _ns(line.timestamp)
        if at:
            self.first_ns = self.first_ns or at
            self.last_ns = max(self.last_ns, at)
        turn = self.turn
        if turn is not None and turn.response is not None and kind != "model_request":
            # A response without its model_request line (a file written before llmx
            # recorded them, or by Codex): it ends here, with what the file tells.
            return self._request_done(turn, None) + self._line(line, at)
        return self._line(line, at)

    def _line(self, line: RolloutLine, at: int) -> list[Record]:
        """The records of one line; its payload is read as the schema's type for its line
        (``response_item``: the head, and a call's full item); one that does not fit it
        gives none."""
        kind = line.type
        if kind == "session_meta":
            meta = line.read_item()
            return self._meta(meta, at) if isinstance(meta, SessionMeta) else []
        if not self.thread_id:
            return []
        if kind == "turn_context":
            context = line.payload_as(TurnContextHead)
            if isinstance(context, TurnContextHead):
                self.model = context.model or self.model
            return []
        if kind == "event_msg":
            return self._event(line.read_item(), at)
        if kind == "response_item":
            return self._item(line, at)
        if kind == "submission":
            submission = line.read_item()
            if isinstance(submission, SubmissionRecord):
                return self._submission(submission, at)
            return []
        if kind == "model_request" and self.turn is not None:
            exchange = line.read_item()
            if isinstance(exchange, ModelRequestRecord):
                return self._request_done(self.turn, exchange, at)
        return []

    def _meta(self, meta: SessionMeta, at: int) -> list[Record]:
        if self.thread_id:
            return []
        self.thread_id = meta.id
        self.trace_id = trace_id_of(self.thread_id)
        self.thread_span = span_id_of(self.thread_id, "thread")
        self.originator = meta.originator
        self.first_ns = _ns(meta.timestamp) or at
        return [self._log("codex.conversation_starts", at, self.thread_span,
                          provider_name=meta.model_provider,
                          cwd=meta.cwd, source=_text(meta.source))]

    def _event(self, event: object, at: int) -> list[Record]:
        if type(event) is em.TaskStarted:
            self.turn = _Turn(event.turn_id, at)
            return []
        turn = self.turn
        if type(event) is em.TaskComplete:
            return self._end_turn(at, aborted=False, failed=bool(event.error))
        if isinstance(event, em.TurnAborted):
            return self._end_turn(at, aborted=True, failed=False)
        if isinstance(event, em.ItemCompleted):
            return self._completed(event.item, at)
        if isinstance(event, em.TokenCount) and turn is not None:
            if event.info is not None:
                turn.response = _Response(at, event.info.last_token_usage)
            return []
        if isinstance(event, em.UserMessage):
            return self._prompt(event.message, at)
        return []

    def _prompt(self, text: str, at: int) -> list[Record]:
        key = (self.turn.turn_id if self.turn else "", text)
        if key in self.prompts:
            return []
        self.prompts.add(key)
        shown = text if self.options.log_user_prompt else REDACTED
        return [self._log("codex.user_prompt", at, self._turn_span(), prompt=shown,
                          prompt_length=str(len(text)))]

    def _completed(self, item: object, at: int) -> list[Record]:
        if isinstance(item, UserMessageItem):
            text = "\n".join(part.text for part in item.content if isinstance(part, TextInput))
            return self._prompt(text, at)
        if isinstance(item, AgentMessageItem):
            if not self.options.log_agent_responses:
                return []
            return [self._log("codex.agent_response", at, self._turn_span(), text=item.text())]
        if isinstance(item, CommandExecutionItem | FileChangeItem | McpToolCallItem):
            call = self.calls.get(item.id)
            if call is not None:
                call.kind = _TOOL_KINDS[type(item)]
                exit_code = item.exit_code if isinstance(item, CommandExecutionItem) else None
                call.success = item.status == "completed" and exit_code in (None, UNSET, 0)
        return []

    def _request_done(self, turn: _Turn, exchange: ModelRequestRecord | None,
                      at: int = 0) -> list[Record]:
        """One model request ended: its span, its attempts and their events (from its
        ``model_request`` line, when there is one), and the response's tokens."""
        response, turn.response = turn.response, None
        turn.requests += 1
        number = str(turn.requests)
        span = span_id_of(self.thread_id, "request", turn.turn_id, number)
        end = at
        if response is not None:
            end = turn.response_end if turn.response_end is not None else response.at
        turn.response_end = None
        attempts = exchange.attempts if exchange is not None else []
        start = turn.request_start
        if attempts:
            start = attempts[0].started_ms * 1_000_000
        usage = response.usage if response is not None else TokenUsage()
        input_tokens = usage.input_tokens
        output_tokens = usage.output_tokens
        turn.input_tokens += input_tokens
        turn.output_tokens += output_tokens
        ok = response is not None or (exchange is not None and exchange.completed)
        attributes: dict[str, Any] = {
            "conversation.id": self.thread_id, "turn.id": turn.turn_id,
            "gen_ai.request.model": self.model,
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
            "llmx.request.number": turn.requests,
        }
        if exchange is not None:
            attributes["llmx.request.attempts"] = len(attempts)
        records: list[Record] = [SpanRecord("llmx.model_request", self.trace_id, span,
                                            self._turn_span(), start, end, attributes, ok=ok)]
        endpoint = exchange.endpoint if exchange is not None else None
        for attempt_number, attempt in enumerate(attempts, 1):
            records.extend(self._attempt(attempt, attempt_number, span, endpoint))
        if response is not None:
            records.append(self._log(
                "codex.sse_event", end, span, input_token_count=str(input_tokens),
                output_token_count=str(output_tokens),
                cached_token_count=usage.cached_input_tokens,
                reasoning_token_count=usage.reasoning_output_tokens,
                tool_token_count=str(usage.total_tokens),
                **{"event.kind": "response.completed"}))
            for token_type, value in (("input", input_tokens), ("output", output_tokens)):
                records.append(MetricPoint("counter", "codex.turn.token_usage", value,
                                           {"token_type": token_type}))
        # The next request starts after this round: its token_count (written after the
        # tools' outputs) or, for a failure, its model_request line.
        turn.request_start = response.at if response is not None else at
        return records

    def _attempt(self, attempt: RequestAttempt, number: int, span: int,
                 endpoint: str | None) -> list[Record]:
        """``codex.api_request`` for one attempt, then a ``codex.sse_event`` for each event
        of its stream, each timed by when it arrived (the attempt's start plus the waits)."""
        waited = attempt.duration_ms
        status = None if isinstance(attempt.status, UnsetType) else attempt.status
        error = None if isinstance(attempt.error, UnsetType) else attempt.error
        success = status is not None and 200 <= status < 300 and error is None
        tags = {"status": str(status) if status is not None else "none",
                "success": str(success).lower()}
        at = (attempt.started_ms + waited) * 1_000_000
        records: list[Record] = [
            self._log("codex.api_request", at, span, attempt=number, duration_ms=str(waited),
                      endpoint=endpoint,
                      **{"http.response.status_code": status, "error.message": error}),
            MetricPoint("counter", "codex.api_request", 1, tags),
            MetricPoint("histogram", "codex.api_request.duration_ms", waited, tags),
        ]
        for run in attempt.sse:
            kind = run.kind
            failed = None if isinstance(run.error, UnsetType) else run.error
            tags = {"kind": kind or "unknown", "success": str(failed is None).lower()}
            for ms in run.ms:
                at += ms * 1_000_000
                records.append(self._log("codex.sse_event", at, span, duration_ms=str(ms),
                                         **{"event.kind": kind or None,
                                            "error.message": failed}))
                records.append(MetricPoint("counter", "codex.sse_event", 1, tags))
                records.append(MetricPoint("histogram", "codex.sse_event.duration_ms", ms,
                                           tags))
        return records

    def _item(self, line: RolloutLine, at: int) -> list[Record]:
        try:
            head = _item_head_decoder.decode(line.payload_raw)
        except DECODE_ERRORS:
            return []
        kind = head.type
        if self.turn is not None and kind not in _OUTPUTS and head.role not in (
                "user", "developer", "system"):
            self.turn.response_end = at
        call_id = head.call_id
        if call_id is None:
            return []
        if kind in _CALLS:
            item = line.read_item()
            if isinstance(item, ri.FunctionCall):
                self.calls[call_id] = _Call(item.name or kind, item.arguments, at)
            elif isinstance(item, ri.CustomToolCall):
                self.calls[call_id] = _Call(item.name or kind, item.input, at)
            elif isinstance(item, ri.LocalShellCall):
                self.calls[call_id] = _Call(kind, "", at)
            return []
        if kind in _OUTPUTS:
            item = line.read_item()
            output = (item.output if isinstance(item, ri.FunctionCallOutput
                                                  | ri.CustomToolCallOutput) else None)
            return self._call_done(call_id, output, at)
        return []

    def _submission(self, submission: SubmissionRecord, at: int) -> list[Record]:
        op = submission.op
        if not isinstance(op, ExecApproval | PatchApproval):
            return []
        call = self.calls.get(op.id)
        decision = _text(op.decision)
        name = call.name if call else ""
        if call is not None:
            call.decided = True
        decided_by = submission.decided_by
        who = "user" if isinstance(decided_by, UnsetType) else decided_by.value
        # Codex's ``source`` is User or Config; ``decided_by`` says exactly who (a person,
        # the app-server's client, an answer preset on the command line, a rule...).
        source = "User" if who in _PEOPLE else "Config"
        records: list[Record] = [self._log(
            "codex.tool_decision", at, self._call_span(op.id), tool_name=name,
            call_id=op.id, decision=decision, source=source, decided_by=who,
        )]
        if decision in _DENIED:
            records.append(MetricPoint("counter", "llmx.tool.denied", 1, {"tool": name}))
        return records

    def _call_span(self, call_id: str) -> int:
        return span_id_of(self.thread_id, "tool", call_id)

    def _call_done(self, call_id: str, output: Any, at: int) -> list[Record]:
        call = self.calls.pop(call_id, None)
        turn = self.turn
        if call is None:
            return []
        text = _text(output)
        success = call.success if call.success is not None else True
        span = self._call_span(call_id)
        duration_ms = max(0, (at - call.start) // 1_000_000)
        records: list[Record] = []
        if not call.decided:
            records.append(self._log("codex.tool_decision", call.start, span,
                                     tool_name=call.name, call_id=call_id,
                                     decision="approved", source="Config",
                                     decided_by="policy"))
        cap = self.options.tool_result_max_bytes
        data = text.encode()
        truncated = cap is not None and len(data) > cap
        shown = data[:cap].decode(errors="ignore") if truncated and cap is not None else text
        records.append(SpanRecord(
            "llmx.tool_call", self.trace_id, span, self._turn_span(), call.start, at,
            {"conversation.id": self.thread_id, "turn.id": turn.turn_id if turn else "",
             "call_id": call_id, "tool_name": call.name, "tool.kind": call.kind,
             "success": success},
            ok=success,
        ))
        records.append(self._log(
            "codex.tool_result", at, span, tool_name=call.name, call_id=call_id,
            arguments=call.arguments, output=shown, output_truncated=truncated,
            success=str(success).lower(), duration_ms=str(duration_ms),
        ))
        records.append(MetricPoint("counter", "codex.tool.call", 1,
                                   {"tool": call.name, "success": str(success).lower()}))
        if turn is not None and turn.response_end is None:
            # The response's token_count came before its tools ran (older writers): the
            # next request starts when the last of them answered.
            turn.request_start = at
        return records

    def _end_turn(self, at: int, *, aborted: bool, failed: bool) -> list[Record]:
        turn = self.turn
        self.turn = None
        if turn is None:
            return []
        status = "aborted" if aborted else "failed" if failed else "completed"
        attributes = {
            "conversation.id": self.thread_id, "turn.id": turn.turn_id, "model": self.model,
            "status": status, "codex.turn.token_usage.input_tokens": turn.input_tokens,
            "codex.turn.token_usage.output_tokens": turn.output_tokens,
        }
        span = span_id_of(self.thread_id, "turn", turn.turn_id)
        return [
            SpanRecord("llmx.turn", self.trace_id, span, self.thread_span, turn.start, at,
                       attributes, ok=status == "completed"),
            MetricPoint("histogram", "codex.turn.e2e_duration_ms",
                        max(0, (at - turn.start) // 1_000_000), {"status": status}),
        ]

    def finish(self) -> list[Record]:
        """The thread span, from its first line to its last."""
        if not self.thread_id:
            return []
        turn = self.turn
        closing = self._request_done(turn, None) if turn and turn.response else []
        return [*closing, SpanRecord("llmx.thread", self.trace_id, self.thread_span, None,
                           self.first_ns, self.last_ns,
                           {"conversation.id": self.thread_id, "originator": self.originator,
                            "model": self.model})]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("type"), str) and len(value) == 1:
        return str(value["type"])
    return msgspec.json.encode(value).decode()
