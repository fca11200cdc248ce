"""One turn: record the context and the input, sample the model, run tools, repeat.

The loop ends when a model response asks for no tool call. Tool calls of one response
run concurrently (the model asked for them together) and their outputs are recorded in
the order the model made the calls, so the next request reads the same on every run.
An interrupt cancels the task running :meth:`Turn.run`; the turn then records an
``aborted by user`` output for every call still open, the ``<turn_aborted>`` marker
message and ``turn_aborted``, as Codex does.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from llmx.events.event_msgs import (
    ApplyPatchApprovalRequest,
    ErrorEvent,
    EventMsg,
    ExecApprovalRequest,
    ItemCompleted,
    ItemStarted,
    StreamError,
    TaskComplete,
    TaskStarted,
    TokenCount,
    TokenUsageInfo,
    TurnAborted,
)
from llmx.events.ids import new_thread_id
from llmx.events.ops import ReviewDecision
from llmx.events.primitives import FileChange, ImageInput, TextInput, UnknownCommand, UserInput
from llmx.events.records import TurnContext
from llmx.events.turn_items import (
    AgentMessageItem,
    AgentText,
    CommandExecutionStatus,
    ReasoningItem,
    TurnItem,
    UserMessageItem,
)
from llmx.runtime.authorship import writer_record
from llmx.runtime.models.errors import ModelError
from llmx.runtime.models.request import ModelRequest, Reasoning, RequestIdentity
from llmx.runtime.models.stream import (
    Completed,
    OutputItemDone,
    RequestSent,
    RetryScheduled,
    TokenUsage,
)
from llmx.runtime.tools import output as tool_output
from llmx.runtime.tools.specs import tool_specs
from llmx.runtime.turn_deltas import StreamedItems
from llmx.runtime.turn_opening import TurnOpening, response_item
from llmx.runtime.turn_tools import ToolCall, TurnAbort, dispatch

if TYPE_CHECKING:
    from llmx.events.event_log import EventLog
    from llmx.runtime.session import Session
    from llmx.runtime.session_types import SessionSettings
    from llmx.sandbox.patch_safety import PatchTarget

TURN_ABORTED_TEXT = (
    "<turn_aborted>\nThe user interrupted the previous turn on purpose. Any running unified "
    "exec processes may still be running in the background. If any tools/commands were "
    "aborted, they may have partially executed.\n</turn_aborted>"
)


class Turn:
    def __init__(
        self,
        session: Session,
        submission_id: str,
        items: list[UserInput],
        output_schema: dict[str, Any] | None,
    ) -> None:
        self.session = session
        self.submission_id = submission_id
        self.turn_id = new_thread_id()
        self.items = items
        self.output_schema = output_schema
        self.started = time.time()
        self.last_agent_message: str | None = None
        # Tool calls made but not answered yet (for the abort path).
        self.open_calls: dict[str, ToolCall] = {}
        # Commands running now: their in-progress item and start time.
        self.running_items: dict[str, tuple[TurnItem, int]] = {}
        self.streamed = StreamedItems(session.settings.thread_id, self.turn_id)
        # What the model is told before the first request; on record once it reached the
        # model's server (see turn_opening). None once written.
        self.opening: TurnOpening | None = None

    @property
    def settings(self) -> SessionSettings:
        return self.session.settings

    @property
    def log(self) -> EventLog:
        return self.session.log

    async def event(self, payload: EventMsg) -> None:
        await self.log.record(payload)

    async def item_started(self, item: TurnItem, started_ms: int) -> None:
        await self.event(
            ItemStarted(
                thread_id=self.settings.thread_id, turn_id=self.turn_id, item=item,
                started_at_ms=started_ms,
            )
        )

    async def item_completed(self, item: TurnItem, started_ms: int, completed_ms: int) -> None:
        await self.event(
            ItemCompleted(
                thread_id=self.settings.thread_id, turn_id=self.turn_id, item=item,
                started_at_ms=started_ms, completed_at_ms=completed_ms,
            )
        )

    async def record(self, item: dict[str, Any]) -> None:
        """Add ``item`` to the model's history and write it as a ``response_item`` line."""
        self.session.history.append(item)
        await self.log.record(response_item(item))

    async def run(self) -> None:
        try:
            await self._run()
        except (asyncio.CancelledError, TurnAbort):
            await self._record_abort()
        # The turn's lines are flushed (and at turn end fsynced): listings may show them.
        self.session.update_index()

    async def _run(self) -> None:
        await self._begin()
        if self.session.take_pending_interrupt():
            # Interrupted before it could start: on record as begun, then aborted.
            raise TurnAbort
        while True:
            try:
                calls = await self._sample()
            except ModelError as error:
                await self._fail(error)
                return
            if not calls:
                break
            outputs = await asyncio.gather(*(dispatch(self, call) for call in calls))
            for call, text in zip(calls, outputs, strict=True):
                self.open_calls.pop(call.call_id, None)
                await self.record(call.output_item(text))
        await self._complete(error=None)

    async def _begin(self) -> None:
        """On record at once: the turn started and what the user asked. What the model is
        told (the opening) joins the history now and the log with the first request."""
        session = self.session
        await self.log.record(
            writer_record(self.settings),
            TaskStarted(
                turn_id=self.turn_id,
                started_at=int(self.started),
                model_context_window=self.settings.model_context_window,
            ),
        )
        now = _now_ms()
        await self.item_completed(
            UserMessageItem(id=new_thread_id(), content=self.items), now, now
        )
        text = "".join(part.text for part in self.items if isinstance(part, TextInput))
        content: list[dict[str, Any]] = [
            {"type": "input_image", "image_url": part.image_url}
            for part in self.items
            if isinstance(part, ImageInput)
        ]
        content.append({"type": "input_text", "text": text})
        context_items = [] if session.context_recorded else session.initial_context()
        self.opening = TurnOpening(
            context_items, self._turn_context(),
            {"type": "message", "role": "user", "content": content},
        )
        self.opening.apply(session.history)

    async def _open(self) -> None:
        """The first request reached the model: the opening goes on record (the thread's
        file appears with it), then the prompt goes to ``history.jsonl``."""
        opening, self.opening = self.opening, None
        if opening is None:
            return
        await self.log.record(*opening.payloads())
        await self.log.persist()
        if opening.context_items:
            self.session.context_recorded = True
        text = "".join(part.text for part in self.items if isinstance(part, TextInput))
        await self.session.record_prompt(text)

    def _withdraw(self) -> None:
        """The model never received this turn: nothing of it stays in its history."""
        opening, self.opening = self.opening, None
        if opening is not None:
            opening.withdraw(self.session.history)

    def _turn_context(self) -> TurnContext:
        settings = self.settings
        context = TurnContext(
            turn_id=self.turn_id,
            cwd=str(settings.cwd),
            approval_policy=settings.approval_policy.value,
            sandbox_policy=settings.sandbox.policy_json,
            model=settings.model,
            summary=settings.reasoning_summary,
        )
        if settings.reasoning_effort is not None:
            context.effort = settings.reasoning_effort
        if settings.user_instructions is not None:
            context.user_instructions = settings.user_instructions
        if self.output_schema is not None:
            context.final_output_json_schema = self.output_schema
        return context

    def _request(self) -> ModelRequest:
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
            input=[self.session.base_instructions_message(), *self.session.history],
            identity=RequestIdentity(thread_id=settings.thread_id, turn_id=self.turn_id),
            tools=tool_specs(settings.wire_api),
            reasoning=Reasoning(
                effort=settings.reasoning_effort, summary=settings.reasoning_summary
            ),
            text=text,
        )

    async def _sample(self) -> list[ToolCall]:
        calls: list[ToolCall] = []
        async for event in self.session.model.stream(self._request()):
            if isinstance(event, RequestSent):
                await self._open()
            elif isinstance(event, OutputItemDone):
                call = await self._on_item(event.raw)
                if call is not None:
                    calls.append(call)
                    self.open_calls[call.call_id] = call
            elif isinstance(event, Completed):
                await self._token_count(event.usage)
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
        now = _now_ms()
        if kind == "message" and item.get("role") == "assistant":
            text = "".join(
                str(part.get("text", ""))
                for part in item.get("content", [])
                if part.get("type") == "output_text"
            )
            self.last_agent_message = text
            agent = AgentMessageItem(id=self.streamed.completed_id(raw),
                                     content=[AgentText(text=text)])
            await self.item_completed(agent, now, now)
        elif kind == "reasoning":
            summary = [str(part.get("text", "")) for part in item.get("summary", [])]
            item_id = self.streamed.completed_id(raw)
            if any(summary):
                reasoning = ReasoningItem(id=item_id, summary_text=summary)
                await self.item_completed(reasoning, now, now)
        elif kind == "function_call":
            return ToolCall(str(item["call_id"]), str(item["name"]), str(item.get("arguments", "")),
                            custom=False)
        elif kind == "custom_tool_call":
            return ToolCall(str(item["call_id"]), str(item["name"]), str(item.get("input", "")),
                            custom=True)
        return None

    async def _token_count(self, usage: TokenUsage | None) -> None:
        if usage is None:
            return
        total = self.session.add_usage(usage)
        await self.event(
            TokenCount(
                info=TokenUsageInfo(
                    total_token_usage=total,
                    last_token_usage=usage,
                    model_context_window=self.settings.model_context_window,
                ),
            )
        )

    async def _fail(self, error: ModelError) -> None:
        self._withdraw()
        info = error.kind.value if error.kind.value in _CODEX_ERROR_INFO else "other"
        await self.event(ErrorEvent(message=error.message, codex_error_info=info))
        self.session.failed = True
        await self._complete(error={"message": error.message, "codex_error_info": info})

    async def _complete(self, *, error: dict[str, Any] | None) -> None:
        completed = time.time()
        payload = TaskComplete(
            turn_id=self.turn_id,
            last_agent_message=self.last_agent_message,
            started_at=int(self.started),
            completed_at=int(completed),
            duration_ms=int((completed - self.started) * 1000),
        )
        if error is not None:
            payload.error = error
        # The writer fsyncs at turn end (``task_complete``) under its durability policy.
        await self.event(payload)
        self.session.turn_finished(self)

    async def _record_abort(self) -> None:
        if self.opening is not None:
            # Stopped before the model had the turn: it is aborted, and that is all.
            self._withdraw()
            await self._aborted()
            return
        elapsed = time.time() - self.started
        for call in list(self.open_calls.values()):
            running = self.running_items.pop(call.call_id, None)
            if running is not None:
                item, started_ms = running
                failed = msgspec.structs.replace(
                    item, status=CommandExecutionStatus.FAILED, exit_code=-1
                )
                await self.item_completed(failed, started_ms, _now_ms())
            await self.record(call.output_item(tool_output.aborted_output(elapsed)))
        self.open_calls.clear()
        await self.record(
            {"type": "message", "role": "user",
             "content": [{"type": "input_text", "text": TURN_ABORTED_TEXT}]}
        )
        await self._aborted()

    async def _aborted(self) -> None:
        completed = time.time()
        await self.event(
            TurnAborted(
                reason="interrupted",
                turn_id=self.turn_id,
                started_at=int(self.started),
                completed_at=int(completed),
                duration_ms=int((completed - self.started) * 1000),
            )
        )
        self.session.aborted = True

    async def request_exec_approval(
        self, call_id: str, command: list[str], cwd: Path, reason: str | None,
        additional_permissions: dict[str, Any] | None = None,
    ) -> ReviewDecision:
        request = ExecApprovalRequest(
            call_id=call_id,
            turn_id=self.turn_id,
            command=command,
            cwd=str(cwd),
            parsed_cmd=[UnknownCommand(cmd=command[-1])],
        )
        if reason is not None:
            request.reason = reason
        if additional_permissions is not None:
            # What a person approves is exactly what the command will get.
            request.additional_permissions = additional_permissions
        return await self.session.await_decision(call_id, request)

    async def request_patch_approval(
        self, call_id: str, changes: dict[str, FileChange], refused: list[PatchTarget]
    ) -> ReviewDecision:
        """Ask about a patch; ``changes`` are keyed by resolved targets, and ``refused``
        (the targets the sandbox would not write) are named in the reason with why."""
        request = ApplyPatchApprovalRequest(call_id=call_id, turn_id=self.turn_id, changes=changes)
        if refused:
            request.reason = "not writable under the sandbox: " + ", ".join(
                target.describe() for target in refused
            )
        return await self.session.await_decision(call_id, request)


_CODEX_ERROR_INFO = frozenset(
    {"context_window_exceeded", "usage_limit_exceeded", "unauthorized", "bad_request"}
)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
