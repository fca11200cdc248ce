"""What a model request records of its way over the wire (``Completed.exchange``, or
``ModelError.exchange`` when it fails): every attempt's status and timing and every
server-sent event of its stream, against the real loopback server."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from msgspec import UNSET
from support.model_scripts import Turn
from support.model_server import responses_events, scripted

from llmx.events.records import ModelRequestRecord
from llmx.runtime.config.tables import ModelProviderInfo, WireApi
from llmx.runtime.models.errors import ModelError
from llmx.runtime.models.request import ModelRequest, RequestIdentity
from llmx.runtime.models.stream import Completed, StreamEvent
from llmx.runtime.models.wires import open_model_client

ENV = {"MOCK_API_KEY": "dummy"}
TEXT = "one two three four"


def _request() -> ModelRequest:
    hi = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    return ModelRequest(model="mock-model", input=[hi], identity=RequestIdentity(thread_id="t"))


async def _run(base_url: str, wire: WireApi = WireApi.RESPONSES,
               **settings: Any) -> list[StreamEvent]:
    info = ModelProviderInfo(base_url=base_url, env_key="MOCK_API_KEY", wire_api=wire,
                             **settings)
    client = open_model_client("mock", info, env=ENV)
    try:
        return [event async for event in client.stream(_request())]
    finally:
        await client.aclose()


def _kinds(exchange: ModelRequestRecord, attempt: int = -1) -> list[str]:
    return [run.kind for run in exchange.attempts[attempt].sse for _ in run.ms]


def _completed(events: list[StreamEvent]) -> ModelRequestRecord:
    last = events[-1]
    assert isinstance(last, Completed)
    assert last.exchange is not None
    return last.exchange


@pytest.mark.asyncio
async def test_every_event_of_a_responses_stream_is_on_record() -> None:
    with scripted({"turns": [[{"type": "message", "text": TEXT}]]}) as server:
        exchange = _completed(await _run(server.base_url))
    assert exchange.endpoint == "/responses"
    assert exchange.completed is True
    [attempt] = exchange.attempts
    assert attempt.status == 200
    # What the server sent, event by event, by its `event:` name.
    message = {"type": "message", "id": "msg_1",
               "content": [{"type": "output_text", "text": TEXT}]}
    sent = [event["type"] for event in responses_events(Turn(items=[]), [message])]
    assert _kinds(exchange) == sent
    assert sent.count("response.output_text.delta") == 4
    # Consecutive events of one kind are one run.
    deltas = [run for run in attempt.sse if run.kind == "response.output_text.delta"]
    assert len(deltas) == 1
    assert len(deltas[0].ms) == 4


@pytest.mark.asyncio
async def test_chat_events_are_named_as_the_stream_names_them() -> None:
    with scripted({"turns": [[{"type": "message", "text": TEXT}]]}) as server:
        exchange = _completed(await _run(server.base_url, WireApi.CHAT))
    assert exchange.endpoint == "/chat/completions"
    kinds = _kinds(exchange)
    # Chat Completions' chunks carry no `event:` name: SSE's default, up to `[DONE]`.
    assert set(kinds) == {"message"}
    assert len(kinds) >= 6
    assert all(run.error is UNSET for run in exchange.attempts[0].sse)


@pytest.mark.asyncio
async def test_each_event_is_timed_by_its_wait() -> None:
    script = {"turns": [{"items": [{"type": "message", "text": TEXT}], "chunk_delay": 0.1}]}
    with scripted(script) as server:
        exchange = _completed(await _run(server.base_url))
    waits = [ms for run in exchange.attempts[0].sse for ms in run.ms]
    # The server pauses 100 ms before every event after the first.
    assert all(ms >= 50 for ms in waits[1:]), waits


@pytest.mark.asyncio
async def test_a_retried_500_is_an_attempt_of_its_own() -> None:
    script = {"turns": [{"status": 500, "error": "overloaded", "items": []},
                        [{"type": "message", "text": TEXT}]]}
    with scripted(script) as server:
        exchange = _completed(await _run(server.base_url, request_max_retries=2))
    failed, answered = exchange.attempts
    assert (failed.status, failed.sse) == (500, [])
    assert answered.status == 200
    assert answered.started_ms >= failed.started_ms + failed.duration_ms
    assert _kinds(exchange)[-1] == "response.completed"


@pytest.mark.asyncio
async def test_a_failed_request_carries_its_attempts_on_the_error() -> None:
    script = {"turns": [{"status": 400, "error": "bad input", "items": []}]}
    with scripted(script) as server, pytest.raises(ModelError) as raised:
        await _run(server.base_url)
    exchange = raised.value.exchange
    assert exchange is not None
    assert exchange.completed is False
    [attempt] = exchange.attempts
    assert attempt.status == 400


@pytest.mark.asyncio
async def test_an_unreachable_server_is_attempts_without_a_status() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ModelError) as raised:
        await _run(f"http://127.0.0.1:{port}/v1", request_max_retries=1)
    exchange = raised.value.exchange
    assert exchange is not None
    assert len(exchange.attempts) == 2
    for attempt in exchange.attempts:
        assert attempt.status is UNSET
        assert isinstance(attempt.error, str)
        assert "127.0.0.1" in attempt.error
        assert attempt.sse == []


@pytest.mark.asyncio
async def test_data_that_is_not_json_is_a_failed_event() -> None:
    script = {"turns": [{"items": [{"type": "message", "text": TEXT}], "inject": ["{oops"]}]}
    with scripted(script) as server:
        exchange = _completed(await _run(server.base_url))
    runs = exchange.attempts[0].sse
    assert runs[0].kind == "response.created"
    bad = runs[1]
    assert (bad.kind, bad.error, len(bad.ms)) == ("message", "the event's data is not JSON", 1)
    assert all(run.error is UNSET for run in runs[2:])
    assert runs[-1].kind == "response.completed"
