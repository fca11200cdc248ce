"""One turn: record the context and the input, sample the model, run tools, repeat.

The loop ends when a model response asks for no tool call. Tool calls of one response
run concurrently (the model asked for them together) and their outputs are recorded in
the order the model made the calls, so the next request reads the same on every run.
An interrupt cancels the task running :meth:`Turn.run`: each running call is cancelled
with it (a running command is killed and its item completed as failed, by the call
itself, see ``turn_tools._run``), then the turn records an ``aborted by user`` output
for every call still open, the ``<turn_aborted>`` marker message and ``turn_aborted``,
as Codex does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llmx.events.event_msgs import (
    EventMsg,
    StreamError,
)
from llmx.events.ids import new_thread_id
from llmx.events.primitives import ImageInput, TextInput, UserInput
from llmx.events.turn_items import (
    AgentMessageItem,
    AgentText,
    ReasoningItem,
    UserMessageItem,
)
from llmx.runtime import turn_records as records
from llmx.runtime.authorship import writer_record
from llmx.runtime.compaction import compact_history
from llmx.runtime.instructions import developer_message
from llmx.runtime.models.errors import ModelError
from llmx.runtime.models.request import ModelRequest, Reasoning, RequestIdentity
from llmx.runtime.models.stream import (
    Completed,
    OutputItemDone,
    RequestSent,
    RetryScheduled,
    TokenUsage,
)
from llmx.runtime.offered_tools import offered_tools
from llmx.runtime.tool_context import ToolContext, now_ms
from llmx.runtime.tools import output as tool_output
from llmx.runtime.turn_deltas import StreamedItems
from llmx.runtime.turn_host import TurnHost, TurnOutcome, TurnStatus
from llmx.runtime.turn_opening import TurnOpening, response_item
from llmx.runtime.turn_tools import ToolCall, TurnAbort, dispatch

if TYPE_CHECKING:
    from llmx.events.event_log import EventLog
    from llmx.events.records import ModelRequestRecord
    from llmx.runtime.session_types import ModelStreamer, SessionSettings

TURN_ABORTED_TEXT = (
    "<turn_aborted>\nThe user interrupted the previous turn on purpose. Any running unified "
    "exec processes may still be running in the background. If any tools/commands were "
    "aborted, they may have partially executed.\n</turn_aborted>"
)


class Turn:
    """One turn of a thread; :meth:`run` returns how it ended."""

    def __init__(
        self,
        settings: SessionSettings,
        log: EventLog,
        model: ModelStreamer,
        host: TurnHost,
        items: list[UserInput],
        output_schema: dict[str, Any] | None,
        *,
        context_items: list[dict[str, Any]],
        interrupted: bool = False,
    ) -> None:
        """``context_items`` open a thread's first turn (the instructions, the environment),
        or tell the model what changed since the turn before (see context_updates).
        ``interrupted``: an interrupt came before the turn started, so it is on record as
        begun and then aborted."""
        self.settings = settings
        self.log = log
        self.model = model
        self.host = host
        self.turn_id = new_thread_id()
        self.items = items
        self.output_schema = output_schema
        self.started = time.time()
        self.last_agent_message: str | None = None
        self._context_items = context_items
        self._interrupted = interrupted
        self._context_recorded = False
        self._opened = False
        # The tokens of the last response: the size of the context the model was sent.
        self._context_tokens = 0
        # The last response's usage, on record once the tools it called have answered
        # (where Codex records its token_count, so clients are told at the same moment).
        self._unrecorded_usage: TokenUsage | None = None
        # That response's model_request line, written right after its token_count.
        self._unrecorded_request: ModelRequestRecord | None = None
        # Tool calls made but not answered yet (for the abort path).
        self.open_calls: dict[str, ToolCall] = {}
        self.tools = ToolContext(settings, log, host, self.turn_id)
        self.streamed = StreamedItems(settings.thread_id, self.turn_id)
        # What the model is told before the first request; on record once it reached the
        # model's server (see turn_opening). None once written.
        self.opening: TurnOpening | None = None

    async def event(self, payload: EventMsg) -> None:
        await self.log.record(payload)

    async def record(self, item: dict[str, Any]) -> None:
        """Add ``item`` to the model's history and write it as a ``response_item`` line."""
        self.host.history.append(item)
        await self.log.record(response_item(item))

    async def run(self) -> TurnOutcome:
        """Run the turn to its end; an interrupt (cancelling the task) ends it aborted."""
        try:
            status = await self._run()
        except (asyncio.CancelledError, TurnAbort):
            await self._record_abort()
            status = TurnStatus.ABORTED
        return TurnOutcome(self.turn_id, status, self.last_agent_message,
                           self._context_recorded, opened=self._opened)

    async def _run(self) -> TurnStatus:
        await self._begin()
        if self._interrupted:
            # Interrupted before it could start: on record as begun, then aborted.
            raise TurnAbort
        while True:
            try:
                calls = await self._sample()
            except ModelError as error:
                await self._fail(error)
                return TurnStatus.FAILED
            if not calls:
                await self._record_usage()
                break
            outputs = await self._dispatch(calls)
            for call, text in zip(calls, outputs, strict=True):
                self.open_calls.pop(call.call_id, None)
                await self.record(call.output_item(text))
            await self._record_usage()
            # What the tools attached (images) goes after every output of the round.
            pending, self.tools.pending_input = self.tools.pending_input, []
            for item in pending:
                await self.record(item)
            if self._context_full():
                # The context filled up mid-turn: summarised before the turn goes on.
                try:
                    await compact_history(self.settings, self.log, self.model, self.host,
                                          self.turn_id, self.host.initial_context())
                except ModelError as error:
                    await self._fail(error)
                    return TurnStatus.FAILED
        await self._complete(error=None)
        return TurnStatus.COMPLETED

    async def _dispatch(self, calls: list[ToolCall]) -> list[str]:
        """Run the calls of one response together; their outputs in call order.

        An abort decision at one call ends the turn: the others are cancelled (a running
        command killed, its end recorded) and waited for, as an interrupt would."""
        tasks = [asyncio.ensure_future(dispatch(self.tools, call)) for call in calls]
        try:
            return await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _begin(self) -> None:
        """On record at once: the turn started and what the user asked. What the model is
        told (the opening) joins the history now and the log with the first request."""
        await self.log.record(
            writer_record(self.settings, self._tools()),
            records.task_started(self.settings, self.turn_id, self.started),
        )
        now = now_ms()
        await self.tools.item_completed(
            UserMessageItem(id=new_thread_id(), content=self.items), now, now
        )
        text = "".join(part.text for part in self.items if isinstance(part, TextInput))
        content: list[dict[str, Any]] = [
            {"type": "input_image", "image_url": part.image_url}
            for part in self.items
            if isinstance(part, ImageInput)
        ]
        content.append({"type": "input_text", "text": text})
        self.opening = TurnOpening(
            self._context_items,
            records.turn_context(self.settings, self.turn_id, self.output_schema),
            {"type": "message", "role": "user", "content": content},
        )
        self.opening.apply(self.host.history)

    async def _open(self) -> None:
        """The first request reached the model: the opening goes on record (the thread's
        file appears with it), then the prompt goes to ``history.jsonl``."""
        opening, self.opening = self.opening, None
        if opening is None:
            return
        await self.log.record(*opening.payloads())
        await self.log.persist()
        self._opened = True
        self._context_recorded = bool(opening.context_items)
        text = "".join(part.text for part in self.items if isinstance(part, TextInput))
        await self.host.record_prompt(text)

    def _withdraw(self) -> None:
        """The model never received this turn: nothing of it stays in its history."""
        opening, self.opening = self.opening, None
        if opening is not None:
            opening.withdraw(self.host.history)

    def _tools(self, extra_tools: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
        return [*offered_tools(self.settings), *extra_tools]

    def _request(self, extra_tools: list[dict[str, Any]]) -> ModelRequest:
        settings = self.settings
        text: dict[str, Any] | None = None
        if self.output_schema is not None:
            text = {
                "format": {
                    "type": "json_schema",
                    "name": "codex_output_schema",
                    "schema": self.output_schema,
                    "strict": True,
                }
            }
        return ModelRequest(
            model=settings.model,
            input=[developer_message(settings.base_instructions), *self.host.history],
            identity=RequestIdentity(thread_id=settings.thread_id, turn_id=self.turn_id),
            tools=self._tools(extra_tools),
            reasoning=Reasoning(
                effort=settings.reasoning_effort, summary=settings.reasoning_summary
            ),
            text=text,
        )

    async def _sample(self) -> list[ToolCall]:
        calls: list[ToolCall] = []
        extra_tools: list[dict[str, Any]] = []
        if self.settings.mcp is not None:
            from llmx.runtime.mcp.turn_hook import offered_tools

            extra_tools = await offered_tools(self.tools, self.settings.mcp)
        async for event in self.model.stream(self._request(extra_tools)):
            if isinstance(event, RequestSent):
                await self._open()
            elif isinstance(event, OutputItemDone):
                call = await self._on_item(event.raw)
                if call is not None:
                    calls.append(call)
                    self.open_calls[call.call_id] = call
            elif isinstance(event, Completed):
                if event.usage is not None:
                    self._context_tokens = event.usage.total_tokens
                    self._unrecorded_usage = event.usage
                self._unrecorded_request = event.exchange
            elif isinstance(event, RetryScheduled):
                await self.event(
                    StreamError(
                        message=f"Reconnecting... {event.attempt}/{event.max_retries}",
                        additional_details=event.message,
                    )
                )
            else:
                delta = self.streamed.delta_event(event)
                if delta is not None:
                    await self.event(delta)
        return calls

    async def _on_item(self, raw: dict[str, Any]) -> ToolCall | None:
        item = {key: value for key, value in raw.items() if key != "id"}
        kind = item.get("type")
        await self.record(item)
        now = now_ms()
        if kind == "message" and item.get("role") == "assistant":
            text = "".join(
                str(part.get("text", ""))
                for part in item.get("content", [])
                if part.get("type") == "output_text"
            )
            self.last_agent_message = text
            agent = AgentMessageItem(id=self.streamed.completed_id(raw),
                                     content=[AgentText(text=text)])
            await self.tools.item_completed(agent, now, now)
        elif kind == "reasoning":
            summary = [str(part.get("text", "")) for part in item.get("summary", [])]
            item_id = self.streamed.completed_id(raw)
            if any(summary):
                reasoning = ReasoningItem(id=item_id, summary_text=summary)
                await self.tools.item_completed(reasoning, now, now)
        elif kind == "function_call":
            namespace = item.get("namespace")
            return ToolCall(str(item["call_id"]), str(item["name"]), str(item.get("arguments", "")),
                            custom=False,
                            namespace=namespace if isinstance(namespace, str) else None)
        elif kind == "custom_tool_call":
            return ToolCall(str(item["call_id"]), str(item["name"]), str(item.get("input", "")),
                            custom=True)
        return None

    def _context_full(self) -> bool:
        limit = self.settings.auto_compact_token_limit
        return limit is not None and self._context_tokens >= limit

    async def _record_usage(self) -> None:
        usage, self._unrecorded_usage = self._unrecorded_usage, None
        exchange, self._unrecorded_request = self._unrecorded_request, None
        if usage is not None:
            total = self.host.add_usage(usage)
            await self.event(records.token_count(self.settings, total, usage))
        for line in records.model_request(exchange, self.turn_id):
            await self.log.record(line)

    async def _fail(self, error: ModelError) -> None:
        self._withdraw()
        event, failure = records.model_failure(error)
        for exchange in records.model_request(error.exchange, self.turn_id):
            await self.log.record(exchange)
        await self.event(event)
        await self._complete(error=failure)

    async def _complete(self, *, error: dict[str, Any] | None) -> None:
        # From here the turn is over: an interrupt now is not taken for one of this turn
        # (it would record an abort after the turn's end, or abort the next prompt).
        self.host.turn_ending()
        # The writer fsyncs at turn end (``task_complete``) under its durability policy.
        await self.event(records.task_complete(self.turn_id, self.started,
                                               self.last_agent_message, error))

    async def _record_abort(self) -> None:
        if self.opening is not None:
            # Stopped before the model had the turn: it is aborted, and that is all.
            self._withdraw()
            await self._aborted()
            return
        elapsed = time.time() - self.started
        # A command that was running has completed (failed) by now: each call records
        # its own command's end as it is cancelled (``turn_tools._run``).
        for call in list(self.open_calls.values()):
            await self.record(call.output_item(tool_output.aborted_output(elapsed)))
        self.open_calls.clear()
        await self._record_usage()
        await self.record(
            {"type": "message", "role": "user",
             "content": [{"type": "input_text", "text": TURN_ABORTED_TEXT}]}
        )
        await self._aborted()

    async def _aborted(self) -> None:
        await self.event(records.turn_aborted(self.turn_id, self.started))

