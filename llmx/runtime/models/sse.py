"""Reading a server-sent-events body into decoded JSON events."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
from httpx_sse import EventSource, SSEError
from msgspec import UNSET

from llmx.events.nesting import nesting_problem, nests_too_deeply
from llmx.events.records import SseRun
from llmx.runtime.models.errors import ModelError, ModelErrorKind

# Chat Completions ends its stream with this instead of a JSON object.
DONE_SENTINEL = "[DONE]"


class SseMessage(msgspec.Struct, frozen=True):
    """One event: its ``event:`` name (may be empty), the raw ``data:`` and the decoded JSON."""

    event: str
    data: str
    json: Any


class SseTrace:
    """The events of one stream as they arrived: each one's ``event:`` name and how long
    it was waited for (from when the reader asked for it, as Codex times its
    ``codex.sse_event``), consecutive events of one name in one run."""

    def __init__(self) -> None:
        self.runs: list[SseRun] = []

    def add(self, kind: str, waited_s: float, error: str | None = None) -> None:
        ms = int(waited_s * 1000)
        last = self.runs[-1] if self.runs else None
        if error is None and last is not None and last.kind == kind and last.error is UNSET:
            last.ms.append(ms)
        elif error is None:
            self.runs.append(SseRun(kind=kind, ms=[ms]))
        else:
            self.runs.append(SseRun(kind=kind, ms=[ms], error=error))


def _failure(event: str, data: str, decoded: Any) -> str | None:
    """Why an event counts as failed, as Codex counts it: a ``response.failed``, or data
    that is not JSON (other than Chat's ``[DONE]``)."""
    if decoded is None:
        return None if data.strip() == DONE_SENTINEL else "the event's data is not JSON"
    kind = decoded.get("type") if isinstance(decoded, dict) else None
    if event == "response.failed" or kind == "response.failed":
        response = decoded.get("response") if isinstance(decoded, dict) else None
        error = response.get("error") if isinstance(response, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        return str(message or "response.failed event received")
    return None


async def iter_sse(response: httpx.Response,
                   trace: SseTrace | None = None) -> AsyncIterator[SseMessage]:
    """Yield the events of ``response``; data that is not JSON is yielded with ``json=None``.

    Codex skips events it cannot parse rather than failing the turn, and so do the parsers
    built on this; the ``[DONE]`` sentinel arrives as data ``"[DONE]"``. An event nested too
    deeply to decode safely (:mod:`llmx.events.nesting`) is a stream error: the stream is
    dropped (and retried as any broken stream is), never read on with the event missing.
    """
    try:
        async with contextlib.aclosing(EventSource(response).aiter_sse()) as events:
            while True:
                asked = time.monotonic()
                try:
                    sse = await anext(events)
                except StopAsyncIteration:
                    return
                except (httpx.TimeoutException, httpx.TransportError) as exc:
                    if trace is not None:
                        broke = ("idle timeout waiting for SSE"
                                 if isinstance(exc, httpx.ReadTimeout) else str(exc) or
                                 type(exc).__name__)
                        trace.add("", time.monotonic() - asked, broke)
                    raise
                if not sse.data:
                    continue
                if nests_too_deeply(sse.data):
                    if trace is not None:
                        trace.add(sse.event, time.monotonic() - asked, nesting_problem())
                    raise ModelError(
                        ModelErrorKind.BAD_STREAM,
                        f"the model server sent an event with {nesting_problem()} "
                        f"({len(sse.data)} bytes); check the server behind base_url",
                    )
                try:
                    decoded: Any = msgspec.json.decode(sse.data)
                except msgspec.DecodeError:
                    decoded = None
                if trace is not None:
                    trace.add(sse.event, time.monotonic() - asked,
                              _failure(sse.event, sse.data, decoded))
                yield SseMessage(event=sse.event, data=sse.data, json=decoded)
    except SSEError as exc:
        content_type = response.headers.get("content-type", "(none)")
        raise ModelError(
            ModelErrorKind.BAD_REQUEST,
            f"the model server did not answer with an event stream (content-type {content_type}): "
            f"{exc}; check base_url and wire_api of the provider",
            status=response.status_code,
        ) from None
