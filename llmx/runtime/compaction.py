"""A compaction: a turn that replaces the model's history with a summary of it.

Submitted as a ``compact`` op, it runs as a turn of its own, as in Codex: the model gets
the history and Codex's checkpoint prompt, and its answer becomes the summary. The new
history is the thread's initial context, the earlier user messages (the newest, within
Codex's budget) and the summary as a user message; it is written as a ``compacted`` line
with the full ``replacement_history`` (Codex 0.169's form, ``message`` left empty), so a
resume starts from it. Between ``task_started`` and ``task_complete`` the log holds the
``turn_context`` and a ``ContextCompaction`` item (started, then completed), the shape
Codex's app-server reports. A compaction that fails or is interrupted leaves the history
as it was.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec

from llmx.events.event_log import EventLog
from llmx.events.ids import new_thread_id
from llmx.events.records import Compacted
from llmx.events.response_items import ResponseItem
from llmx.events.turn_items import ContextCompactionItem
from llmx.projections.turns import SUMMARY_PREFIX, collect_user_messages_of, compacted_history
from llmx.runtime import turn_records as records
from llmx.runtime.authorship import writer_record
from llmx.runtime.instructions import developer_message
from llmx.runtime.models.errors import ModelError
from llmx.runtime.models.request import ModelRequest, Reasoning, RequestIdentity
from llmx.runtime.models.stream import Completed, OutputItemDone, RequestSent
from llmx.runtime.session_types import HistoryItem, ModelStreamer, SessionSettings
from llmx.runtime.tool_context import ToolContext, now_ms
from llmx.runtime.turn_host import TurnHost, TurnOutcome, TurnStatus

# Codex's checkpoint prompt (templates/compact/prompt.md in codex-rs).
COMPACT_PROMPT = (
    "You are performing a CONTEXT CHECKPOINT COMPACTION. Create a handoff summary for "
    "another LLM that will resume the task.\n\nInclude:\n- Goal / user objective\n"
    "- Current progress and key decisions made\n"
    "- Important context, constraints, or user preferences\n"
    "- What remains to be done (clear next steps)\n"
    "- Any critical data, examples, or references needed to continue\n\n"
    "Be concise, structured, and focused on helping the next LLM seamlessly continue the "
    "work.\n"
)


class Compaction:
    """One compaction of a thread's history; :meth:`run` returns how it ended."""

    def __init__(
        self,
        settings: SessionSettings,
        log: EventLog,
        model: ModelStreamer,
        host: TurnHost,
        *,
        initial_context: list[dict[str, Any]],
    ) -> None:
        """``initial_context`` opens the new history (the instructions, the environment)."""
        self.settings = settings
        self.log = log
        self.model = model
        self.host = host
        self.turn_id = new_thread_id()
        self.started = time.time()
        self._initial_context = initial_context
        self._item = ContextCompactionItem(id=new_thread_id())

    async def run(self) -> TurnOutcome:
        try:
            status = await self._run()
        except asyncio.CancelledError:
            await self.log.record(records.turn_aborted(self.turn_id, self.started))
            status = TurnStatus.ABORTED
        # The new history holds the initial context: later turns need not send it again.
        return TurnOutcome(self.turn_id, status, None,
                           context_recorded=status is TurnStatus.COMPLETED)

    async def _run(self) -> TurnStatus:
        settings = self.settings
        started_ms = now_ms()
        await self.log.record(
            writer_record(settings),
            records.task_started(settings, self.turn_id, self.started),
            records.turn_context(settings, self.turn_id),
        )
        await self._item_event(started_ms, None)
        try:
            summary = await self._summarize()
        except ModelError as error:
            event, failure = records.model_failure(error)
            await self.log.record(event)
            await self.log.record(records.task_complete(self.turn_id, self.started, None,
                                                        failure))
            return TurnStatus.FAILED
        history = self.host.history
        users = collect_user_messages_of(history, _as_dict)
        replacement = compacted_history(self._initial_context, users,
                                        f"{SUMMARY_PREFIX}\n{summary}")
        await self.log.record(Compacted(
            message="", replacement_history=msgspec.convert(replacement, list[ResponseItem])))
        history[:] = replacement
        await self._item_event(started_ms, now_ms())
        await self.log.record(records.task_complete(self.turn_id, self.started, None))
        return TurnStatus.COMPLETED

    async def _summarize(self) -> str:
        """Ask the model for the summary: the history, then the checkpoint prompt."""
        settings = self.settings
        prompt = {"type": "message", "role": "user",
                  "content": [{"type": "input_text", "text": COMPACT_PROMPT}]}
        request = ModelRequest(
            model=settings.model,
            input=[developer_message(settings.base_instructions), *self.host.history, prompt],
            identity=RequestIdentity(thread_id=settings.thread_id, turn_id=self.turn_id),
            reasoning=Reasoning(effort=settings.reasoning_effort,
                                summary=settings.reasoning_summary),
        )
        summary = ""
        async for event in self.model.stream(request):
            if isinstance(event, RequestSent):
                # A thread whose first act is a compaction gets its file now.
                await self.log.persist()
            elif isinstance(event, OutputItemDone):
                if event.raw.get("type") == "message" and event.raw.get("role") == "assistant":
                    summary = _output_text(event.raw)
            elif isinstance(event, Completed) and event.usage is not None:
                total = self.host.add_usage(event.usage)
                await self.log.record(records.token_count(settings, total, event.usage))
        return summary

    async def _item_event(self, started_ms: int, completed_ms: int | None) -> None:
        items = ToolContext(self.settings, self.log, self.host, self.turn_id)
        if completed_ms is None:
            await items.item_started(self._item, started_ms)
        else:
            await items.item_completed(self._item, started_ms, completed_ms)


def _as_dict(item: HistoryItem) -> dict[str, Any]:
    """A history item as JSON (a resumed item is kept as its recorded bytes)."""
    if isinstance(item, msgspec.Raw):
        decoded: dict[str, Any] = msgspec.json.decode(item)
        return decoded
    return item


def _output_text(item: dict[str, Any]) -> str:
    return "".join(str(part.get("text", "")) for part in item.get("content", [])
                   if isinstance(part, dict) and part.get("type") == "output_text")
