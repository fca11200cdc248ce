"""Reading a server-sent-events body into decoded JSON events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
from httpx_sse import EventSource, SSEError

from llmx.events.nesting import nesting_problem, nests_too_deeply
from llmx.runtime.models.errors import ModelError, ModelErrorKind

# Chat Completions ends its stream with this instead of a JSON object.
DONE_SENTINEL = "[DONE]"


class SseMessage(msgspec.Struct, frozen=True):
    """One event: its ``event:`` name (may be empty), the raw ``data:`` and the decoded JSON."""

    event: str
    data: str
    json: Any


async def iter_sse(response: httpx.Response) -> AsyncIterator[SseMessage]:
    """Yield the events of ``response``; data that is not JSON is yielded with ``json=None``.

    Codex skips events it cannot parse rather than failing the turn, and so do the parsers
    built on this; the ``[DONE]`` sentinel arrives as data ``"[DONE]"``. An event nested too
    deeply to decode safely (:mod:`llmx.events.nesting`) is a stream error: the stream is
    dropped (and retried as any broken stream is), never read on with the event missing.
    """
    try:
        async for sse in EventSource(response).aiter_sse():
            if not sse.data:
                continue
            if nests_too_deeply(sse.data):
                raise ModelError(
                    ModelErrorKind.BAD_STREAM,
                    f"the model server sent an event with {nesting_problem()} "
                    f"({len(sse.data)} bytes); check the server behind base_url",
                )
            try:
                decoded: Any = msgspec.json.decode(sse.data)
            except msgspec.DecodeError:
                decoded = None
            yield SseMessage(event=sse.event, data=sse.data, json=decoded)
    except SSEError as exc:
        content_type = response.headers.get("content-type", "(none)")
        raise ModelError(
            ModelErrorKind.BAD_REQUEST,
            f"the model server did not answer with an event stream (content-type {content_type}): "
            f"{exc}; check base_url and wire_api of the provider",
            status=response.status_code,
        ) from None
