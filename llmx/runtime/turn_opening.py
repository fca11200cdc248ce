"""What a turn tells the model before its first request, on record once the model has it.

A turn's opening is the context it adds to the model's history (the initial context of a
new thread), its ``turn_context`` and the user's message. The items join the in-memory
history at once, since the first request is built from it, but reach the log only when
that request reached the model's server (``RequestSent``). A turn that never got there (no
API key, a server that cannot be reached, an interrupt while connecting) is withdrawn from
the history and leaves none of it in the log: a later resume does not send its message a
second time, and a new thread that never started leaves no file. The turn itself is still
on record (``task_started``, the user's message as a turn item, then its failure).
"""

from __future__ import annotations

from typing import Any

import msgspec

from llmx.events.lines import UnknownPayload
from llmx.events.records import TurnContext
from llmx.events.response_items import ResponseItem
from llmx.runtime.session_types import HistoryItem

RolloutPayload = ResponseItem | UnknownPayload | TurnContext


class TurnOpening:
    """The opening of one turn, applied to the history and not yet written."""

    def __init__(
        self, context_items: list[dict[str, Any]], turn_context: TurnContext,
        user_message: dict[str, Any],
    ) -> None:
        self.context_items = context_items
        self.turn_context = turn_context
        self.user_message = user_message
        self._mark: int | None = None

    def apply(self, history: list[HistoryItem]) -> None:
        """Add the opening's items to the model's history (where the request reads them)."""
        self._mark = len(history)
        history.extend(self.context_items)
        history.append(self.user_message)

    def withdraw(self, history: list[HistoryItem]) -> None:
        """Take the items back out: the model never received them."""
        if self._mark is not None:
            del history[self._mark :]
            self._mark = None

    def payloads(self) -> list[RolloutPayload]:
        """The lines to write, in Codex's order: context, ``turn_context``, the message."""
        return [
            *(response_item(item) for item in self.context_items),
            self.turn_context,
            response_item(self.user_message),
        ]


def response_item(item: dict[str, Any]) -> ResponseItem | UnknownPayload:
    """``item`` (as sent to or received from the model) as the typed rollout payload.

    An item type the schema does not model yet is written as it came, untouched.
    """
    try:
        typed: ResponseItem = msgspec.convert(item, ResponseItem)
    except msgspec.ValidationError as exc:
        kind = item.get("type")
        return UnknownPayload(
            "response_item", kind if isinstance(kind, str) else None,
            msgspec.json.encode(item), str(exc),
        )
    return typed
