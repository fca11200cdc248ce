"""Compaction: the model's history replaced with a summary of it.

A compaction runs as a turn of its own when asked for (a ``compact`` op) or when the
context filled up before a turn (the last response measured at least the thread's
``auto_compact_token_limit``; a resumed history estimated that large), and inside a turn
when a response fills it before the turn's next request. As in Codex, the model gets the
history and the checkpoint prompt (``compact_prompt`` or
``experimental_compact_prompt_file`` replace it), and its answer becomes the summary.
Only the newest items that fit the model's window are sent (older ones are left out, and
a ``warning`` says how many): the request is built from the end of the history and its
cost follows what is summarised, not the length of the thread.

The new history is the thread's initial context, the earlier user messages (the newest,
within Codex's budget) and the summary as a user message; it is written as a
``compacted`` line with the full ``replacement_history`` (Codex 0.169's form, ``message``
left empty), so a resume starts from it. A ``ContextCompaction`` item is started before
and completed after, the shape Codex's app-server reports. A compaction that fails or is
interrupted leaves the history as it was.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec

from llmx.events.event_log import EventLog
from llmx.events.event_msgs import WarningEvent
from llmx.events.ids import new_thread_id
from llmx.events.records import Compacted
from llmx.events.response_items import ResponseItem
from llmx.events.turn_items import ContextCompactionItem
from llmx.projections.turns import SUMMARY_PREFIX, collect_user_messages_of, compacted_history
from llmx.runtime import turn_records as records
from llmx.runtime.authorship import writer_record
from llmx.runtime.instructions import developer_message
from llmx.runtime.model_families import context_window
from llmx.runtime.models.errors import ModelError
from llmx.runtime.models.request import ModelRequest, Reasoning, RequestIdentity
from llmx.runtime.models.stream import Completed, OutputItemDone, RequestSent
from llmx.runtime.session_types import HistoryItem, ModelStreamer, SessionSettings
from llmx.runtime.tool_context import ToolContext, now_ms
from llmx.runtime.turn_host import TurnHost, TurnOutcome, TurnStatus

_BYTES_PER_TOKEN = 4

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
        notice: str | None = None,
    ) -> None:
        """``initial_context`` opens the new history (the instructions, the environment);
        ``notice``, when given, is said (a ``warning`` event) as the compaction starts:
        why it runs when nobody asked for it."""
        self.settings = settings
        self.log = log
        self.model = model
        self.host = host
        self.turn_id = new_thread_id()
        self.started = time.time()
        self._initial_context = initial_context
        self._notice = notice

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
        await self.log.record(
            writer_record(settings),
            records.task_started(settings, self.turn_id, self.started),
            records.turn_context(settings, self.turn_id),
        )
        if self._notice is not None:
            await self.log.record(WarningEvent(message=self._notice))
        try:
            await compact_history(settings, self.log, self.model, self.host, self.turn_id,
                                  self._initial_context)
        except ModelError as error:
            event, failure = records.model_failure(error)
            for exchange in records.model_request(error.exchange, self.turn_id):
                await self.log.record(exchange)
            await self.log.record(event)
            await self.log.record(records.task_complete(self.turn_id, self.started, None,
                                                        failure))
            return TurnStatus.FAILED
        await self.log.record(records.task_complete(self.turn_id, self.started, None))
        return TurnStatus.COMPLETED


async def compact_history(
    settings: SessionSettings,
    log: EventLog,
    model: ModelStreamer,
    host: TurnHost,
    turn_id: str,
    initial_context: list[dict[str, Any]],
) -> None:
    """Summarise the history and replace it, inside turn ``turn_id`` (a compaction turn,
    or a turn that filled the context): a ``ContextCompaction`` item started, the
    ``compacted`` line, the item completed. Raises ``ModelError`` with the history as
    it was."""
    items = ToolContext(settings, log, host, turn_id)
    item = ContextCompactionItem(id=new_thread_id())
    started_ms = now_ms()
    await items.item_started(item, started_ms)
    summarised, trimmed = summary_input(host.history, _input_budget(settings))
    if trimmed:
        await log.record(WarningEvent(message=(
            f"Trimmed {trimmed} older conversation item(s) before compacting, so that "
            "the request fits the model's context window")))
    summary = await _summarize(settings, log, model, host, turn_id, summarised)
    users = collect_user_messages_of(user_message_candidates(summarised), _as_dict)
    replacement = compacted_history(initial_context, users, f"{SUMMARY_PREFIX}\n{summary}")
    await log.record(Compacted(
        message="", replacement_history=msgspec.convert(replacement, list[ResponseItem])))
    host.history[:] = replacement
    await items.item_completed(item, started_ms, now_ms())


def summary_input(history: list[HistoryItem], budget: int) -> tuple[list[HistoryItem], int]:
    """The newest items of ``history`` whose estimated tokens fit ``budget``, oldest
    first, and how many older ones were left out. Read from the end and stopped at the
    budget: the cost follows what is summarised, not the length of the thread."""
    kept: list[HistoryItem] = []
    used = 0
    for index in range(len(history) - 1, -1, -1):
        item = history[index]
        size = approx_tokens(item)
        if kept and used + size > budget:
            kept.reverse()
            return kept, index + 1
        used += size
        kept.append(item)
    kept.reverse()
    return kept, 0


def user_message_candidates(items: list[HistoryItem]) -> list[HistoryItem]:
    """``items`` without the recorded ones that cannot be a user message (no ``"user"`` in
    their bytes), so that only the candidates are decoded."""
    return [item for item in items
            if not isinstance(item, msgspec.Raw) or b'"user"' in memoryview(item).tobytes()]


def approx_tokens(item: HistoryItem) -> int:
    """Codex's estimate: four bytes of JSON per token."""
    data = item if isinstance(item, msgspec.Raw) else msgspec.json.encode(item)
    return len(data) // _BYTES_PER_TOKEN + 1


def _compact_prompt(settings: SessionSettings) -> str:
    return settings.compact_prompt or COMPACT_PROMPT


def _input_budget(settings: SessionSettings) -> int:
    """Tokens the summarised history may take: the usable part of the window (Codex keeps
    a twentieth of it free) less the instructions and the prompt."""
    window = context_window(settings.model, settings.model_context_window,
                            settings.model_catalog)
    fixed = len(settings.base_instructions.encode()) + len(
        _compact_prompt(settings).encode())
    return max(window * 95 // 100 - fixed // _BYTES_PER_TOKEN, 1)


async def _summarize(
    settings: SessionSettings,
    log: EventLog,
    model: ModelStreamer,
    host: TurnHost,
    turn_id: str,
    summarised: list[HistoryItem],
) -> str:
    """Ask the model for the summary: the history, then the checkpoint prompt."""
    prompt = {"type": "message", "role": "user",
              "content": [{"type": "input_text", "text": _compact_prompt(settings)}]}
    request = ModelRequest(
        model=settings.model,
        input=[developer_message(settings.base_instructions), *summarised, prompt],
        identity=RequestIdentity(thread_id=settings.thread_id, turn_id=turn_id),
        reasoning=Reasoning(effort=settings.reasoning_effort,
                            summary=settings.reasoning_summary),
    )
    summary = ""
    async for event in model.stream(request):
        if isinstance(event, RequestSent):
            # A thread whose first act is a compaction gets its file now.
            await log.persist()
        elif isinstance(event, OutputItemDone):
            if event.raw.get("type") == "message" and event.raw.get("role") == "assistant":
                summary = _output_text(event.raw)
        elif isinstance(event, Completed):
            if event.usage is not None:
                total = host.add_usage(event.usage)
                await log.record(records.token_count(settings, total, event.usage))
            for exchange in records.model_request(event.exchange, turn_id):
                await log.record(exchange)
    return summary


def _as_dict(item: HistoryItem) -> dict[str, Any]:
    """A history item as JSON (a resumed item is kept as its recorded bytes)."""
    if isinstance(item, msgspec.Raw):
        decoded: dict[str, Any] = msgspec.json.decode(item)
        return decoded
    return item


def _output_text(item: dict[str, Any]) -> str:
    return "".join(str(part.get("text", "")) for part in item.get("content", [])
                   if isinstance(part, dict) and part.get("type") == "output_text")
