"""The model's stream, piece by piece, as Codex's item-level delta events.

Each piece of assistant text becomes an ``agent_message_content_delta``, each piece of a
reasoning summary a ``reasoning_content_delta`` and each piece of raw reasoning a
``reasoning_raw_content_delta``, all naming the item they belong to. Codex derives the
legacy forms (``agent_message_delta``, ``agent_reasoning_delta``...) from these for old
clients and persists only the originals; so do we (a reader wanting the legacy form
derives it the same way). The event log publishes deltas to subscribers always and
persists them only with ``[rollout] persist_deltas``.

Deltas are for live display: the complete item that follows is what the turn records
and acts on, and the exec projections ignore deltas, so what a run prints does not
depend on them.
"""

from __future__ import annotations

from typing import Any

from llmx.events.event_msgs import (
    AgentMessageContentDelta,
    EventMsg,
    ReasoningContentDelta,
    ReasoningRawContentDelta,
)
from llmx.events.ids import new_thread_id
from llmx.runtime.models.stream import (
    Created,
    OutputItemAdded,
    OutputTextDelta,
    ReasoningSummaryDelta,
    StreamEvent,
)
from llmx.runtime.models.stream import ReasoningContentDelta as RawReasoningDelta

_MESSAGE = "message"
_REASONING = "reasoning"


class StreamedItems:
    """Ids of the items the model is streaming, so deltas and the completed item agree.

    A wire item may have no id while it streams (Chat Completions items never do): one
    is made when its first piece arrives and given to the completed item too.
    """

    def __init__(self, thread_id: str, turn_id: str) -> None:
        self._thread_id = thread_id
        self._turn_id = turn_id
        # "message" / "reasoning" -> the id of the item of that kind being streamed.
        self._open: dict[str, str] = {}

    def delta_event(self, event: StreamEvent) -> EventMsg | None:
        """The delta event for ``event``, or None when it is not a piece of an item."""
        if isinstance(event, OutputTextDelta):
            return AgentMessageContentDelta(
                thread_id=self._thread_id, turn_id=self._turn_id,
                item_id=self._id_of(_MESSAGE), delta=event.delta,
            )
        if isinstance(event, ReasoningSummaryDelta):
            return ReasoningContentDelta(
                thread_id=self._thread_id, turn_id=self._turn_id,
                item_id=self._id_of(_REASONING), delta=event.delta,
                summary_index=event.summary_index,
            )
        if isinstance(event, RawReasoningDelta):
            return ReasoningRawContentDelta(
                thread_id=self._thread_id, turn_id=self._turn_id,
                item_id=self._id_of(_REASONING), delta=event.delta,
                content_index=event.content_index,
            )
        if isinstance(event, OutputItemAdded):
            kind = event.raw.get("type")
            if kind in (_MESSAGE, _REASONING):
                wire_id = event.raw.get("id")
                self._open[str(kind)] = str(wire_id) if wire_id else new_thread_id()
        elif isinstance(event, Created):
            # A new attempt: whatever the previous one streamed is void.
            self._open.clear()
        return None

    def completed_id(self, raw: dict[str, Any]) -> str:
        """The id of a completed ``message`` or ``reasoning`` item (ends its streaming)."""
        # The id its deltas named wins: with Chat Completions the client only makes up the
        # wire id once the stream has ended, after the deltas were published.
        streamed = self._open.pop(str(raw.get("type")), None)
        if streamed is not None:
            return streamed
        wire_id = raw.get("id")
        return str(wire_id) if wire_id else new_thread_id()

    def _id_of(self, kind: str) -> str:
        item_id = self._open.get(kind)
        if item_id is None:
            item_id = self._open[kind] = new_thread_id()
        return item_id
