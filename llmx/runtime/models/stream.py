"""The normalised model stream: what every model client yields, whatever its wire API.

Contract (the turn loop codes against this, not against a wire format):

- ``ModelClient.stream(request)`` is an async iterator of :data:`StreamEvent`.
- Each attempt that reaches the server starts with :class:`RequestSent` (the server
  answered, whatever the status): from then on the model may have seen the request. An
  attempt that never got there (no API key, a server that cannot be reached) yields none.
- Each attempt the server accepts then yields :class:`Created`. A successful stream ends
  with exactly one :class:`Completed`, after every :class:`OutputItemDone` of the response.
- Deltas (:class:`OutputTextDelta`, :class:`ReasoningSummaryDelta`,
  :class:`ReasoningContentDelta`) are for live display only; the complete items come in
  :class:`OutputItemDone` and are what the loop records and acts on.
- :class:`RetryScheduled` means the current attempt failed with a retryable error and the
  client will send the same request again after ``delay`` seconds. Everything yielded since
  the previous :class:`Created` belongs to the failed attempt and is void (it is usually
  nothing: most failures happen before the first byte). The loop records it as a
  ``stream_error`` event.
- A failure that is not retryable, or that outlived its retries, is raised as
  :class:`~llmx.runtime.models.errors.ModelError`; the loop turns it into an ``error`` event.
- :class:`Completed` (and a raised ``ModelError``, as ``exchange``) carries the request's
  :class:`~llmx.events.records.ModelRequestRecord`: each attempt's status and timing and
  the server-sent events of its stream, which the loop records as a ``model_request`` line.
- Cancelling the consuming task closes the HTTP response; nothing else needs cleaning up.

``item`` fields are :data:`llmx.events.response_items.ResponseItem` Structs (ready for a
``response_item`` line); output items of a kind the schema does not know are not yielded.
``usage`` is :class:`llmx.events.primitives.TokenUsage`, ready for a ``token_count`` event.
"""

from __future__ import annotations

from typing import Any

import msgspec

# Re-exported: the usage a Completed event carries is the rollout schema's own type.
from llmx.events.primitives import TokenUsage as TokenUsage
from llmx.events.records import ModelRequestRecord
from llmx.runtime.models.items import ResponseItem


class RequestSent(msgspec.Struct, frozen=True):
    """The request reached the model's server: it answered with a status line (any)."""


class Created(msgspec.Struct, frozen=True):
    """The server accepted the request and started a response (one per attempt)."""


class OutputItemAdded(msgspec.Struct, frozen=True):
    """An output item started (its content is still empty or partial)."""

    item: ResponseItem
    raw: dict[str, Any]


class OutputTextDelta(msgspec.Struct, frozen=True):
    """A piece of assistant message text."""

    delta: str


class ReasoningSummaryDelta(msgspec.Struct, frozen=True):
    """A piece of a reasoning summary (the text Codex shows as ``thinking``)."""

    delta: str
    summary_index: int = 0


class ReasoningSummaryPartAdded(msgspec.Struct, frozen=True):
    """A new reasoning summary section starts (Codex separates them with a blank line)."""

    summary_index: int = 0


class ReasoningContentDelta(msgspec.Struct, frozen=True):
    """A piece of raw reasoning text (open-weight models over Chat Completions send these)."""

    delta: str
    content_index: int = 0


class OutputItemDone(msgspec.Struct, frozen=True):
    """A complete item: ``message``, ``reasoning``, ``function_call``, ``custom_tool_call``...

    ``item`` is the typed ``ResponseItem``; ``raw`` is the JSON object exactly as the wire
    carried it (for Chat Completions, the Responses-shaped object the client assembled).
    """

    item: ResponseItem
    raw: dict[str, Any]


class Completed(msgspec.Struct, frozen=True):
    """The response finished; ``usage`` is ``None`` when the server reported none;
    ``exchange`` is how the request went over the wire (its attempts and their events)."""

    response_id: str
    usage: TokenUsage | None = None
    exchange: ModelRequestRecord | None = None


class RetryScheduled(msgspec.Struct, frozen=True):
    """The attempt failed and will be retried after ``delay`` seconds.

    ``attempt`` counts retries from 1; ``max_retries`` is the budget for this kind of
    failure (``request_max_retries`` or ``stream_max_retries``). ``message`` is the
    failure, e.g. ``{"error": ...}`` or ``idle timeout waiting for SSE``.
    """

    attempt: int
    max_retries: int
    delay: float
    message: str
    status: int | None = None


StreamEvent = (
    RequestSent
    | Created
    | OutputItemAdded
    | OutputTextDelta
    | ReasoningSummaryDelta
    | ReasoningSummaryPartAdded
    | ReasoningContentDelta
    | OutputItemDone
    | Completed
    | RetryScheduled
)
