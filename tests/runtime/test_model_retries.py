"""Failures against the real loopback server: retries, Retry-After, errors, idle streams."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from support import CODEX_FIXTURES
from support.model_scripts import Script
from support.model_server import ModelServer, scripted

from llmx.runtime.config.tables import ModelProviderInfo, WireApi
from llmx.runtime.models.errors import ModelError, ModelErrorKind
from llmx.runtime.models.request import ModelRequest, RequestIdentity
from llmx.runtime.models.stream import Completed, OutputItemDone, RetryScheduled, StreamEvent
from llmx.runtime.models.wires import open_model_client

ENV = {"MOCK_API_KEY": "dummy"}
HI = [{"type": "message", "text": "Recovered."}]
WIRES = pytest.mark.parametrize("wire", [WireApi.RESPONSES, WireApi.CHAT], ids=lambda w: w.value)


def req() -> ModelRequest:
    say_hi = {"type": "message", "role": "user",
              "content": [{"type": "input_text", "text": "say hi"}]}
    return ModelRequest(model="mock-model", input=[say_hi],
                        identity=RequestIdentity(thread_id="thread-1"))


async def run(
    base_url: str, wire: WireApi = WireApi.RESPONSES, env: dict[str, str] | None = None,
    **settings: Any,
) -> list[StreamEvent]:
    info = ModelProviderInfo(base_url=base_url, env_key="MOCK_API_KEY", wire_api=wire, **settings)
    client = open_model_client("mock", info, env=ENV if env is None else env)
    try:
        return [event async for event in client.stream(req())]
    finally:
        await client.aclose()


def retries(events: list[StreamEvent]) -> list[RetryScheduled]:
    return [e for e in events if isinstance(e, RetryScheduled)]


@WIRES
@pytest.mark.asyncio
async def test_a_500_is_retried_and_reported(wire: WireApi) -> None:
    script = Script.load(CODEX_FIXTURES / "mock-scripts" / "server_error_then_ok.json")
    with ModelServer(script) as server:
        events = await run(server.base_url, wire)
    [retry] = retries(events)
    assert retry.attempt == 1
    assert retry.max_retries == 4
    assert retry.status == 500
    assert json.loads(retry.message) == {
        "error": {"message": "mock overloaded", "type": "server_error"}
    }
    assert 0.15 < retry.delay < 0.25  # the first backoff step: 200 ms with +-10 % jitter
    [item] = [e.raw for e in events if isinstance(e, OutputItemDone)]
    assert item["content"][0]["text"] == "Recovered after a 500."
    assert isinstance(events[-1], Completed)
    assert len(server.model_requests()) == 2


@pytest.mark.asyncio
async def test_a_429_waits_as_long_as_retry_after_says() -> None:
    script = {"turns": [{"status": 429, "error": "slow down", "retry_after": "1", "items": []},
                        HI]}
    with scripted(script) as server:
        events = await run(server.base_url)
    [retry] = retries(events)
    assert retry.delay == 1.0
    assert retry.status == 429
    assert isinstance(events[-1], Completed)
    assert len(server.model_requests()) == 2


@pytest.mark.asyncio
async def test_retries_stop_at_request_max_retries() -> None:
    script = {"turns": [], "fallback": {"status": 503, "error": "down", "items": []}}
    with scripted(script) as server, pytest.raises(ModelError) as caught:
        await run(server.base_url, request_max_retries=2)
    assert caught.value.kind is ModelErrorKind.SERVER
    assert caught.value.status == 503
    assert len(server.model_requests()) == 3


@WIRES
@pytest.mark.asyncio
async def test_a_400_fails_at_once_with_the_body_as_message(wire: WireApi) -> None:
    script = Script.load(CODEX_FIXTURES / "mock-scripts" / "server_error_always.json")
    with ModelServer(script) as server, pytest.raises(ModelError) as caught:
        await run(server.base_url, wire)
    error = caught.value
    assert error.kind is ModelErrorKind.BAD_REQUEST
    assert error.status == 400
    assert not error.retryable
    # What Codex 0.169 reported for the same answer (exec-json/server_error_400_json.jsonl).
    assert str(error) == '{"error": {"message": "mock bad request", "type": "server_error"}}'
    assert len(server.model_requests()) == 1


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (401, None, ModelErrorKind.UNAUTHORIZED),
        (400, "context_length_exceeded", ModelErrorKind.CONTEXT_WINDOW_EXCEEDED),
        (429, "insufficient_quota", ModelErrorKind.USAGE_LIMIT),
        (404, None, ModelErrorKind.BAD_REQUEST),
    ],
)
@pytest.mark.asyncio
async def test_errors_that_retrying_cannot_fix(
    status: int, code: str | None, kind: ModelErrorKind
) -> None:
    turn: dict[str, Any] = {"status": status, "error": "no", "items": []}
    if code is not None:
        turn["code"] = code
    with scripted({"turns": [], "fallback": turn}) as server, pytest.raises(ModelError) as caught:
        await run(server.base_url)
    assert caught.value.kind is kind
    assert caught.value.status == status
    assert len(server.model_requests()) == 1


@WIRES
@pytest.mark.asyncio
async def test_a_stalled_stream_hits_the_idle_timeout(wire: WireApi) -> None:
    script = {"turns": [], "fallback": {"items": HI, "stall": 30}}
    with scripted(script) as server, pytest.raises(ModelError) as caught:
        await run(server.base_url, wire, stream_idle_timeout_ms=200, stream_max_retries=0)
    assert caught.value.kind is ModelErrorKind.IDLE_TIMEOUT
    assert str(caught.value) == "idle timeout waiting for SSE"


@pytest.mark.asyncio
async def test_an_idle_stream_is_retried_under_stream_max_retries() -> None:
    script = {"turns": [{"items": HI, "stall": 30}, HI]}
    with scripted(script) as server:
        events = await run(server.base_url, stream_idle_timeout_ms=200, stream_max_retries=1,
                           request_max_retries=0)
    [retry] = retries(events)
    assert retry.message == "idle timeout waiting for SSE"
    assert retry.max_retries == 1
    assert isinstance(events[-1], Completed)


@WIRES
@pytest.mark.asyncio
async def test_a_stream_cut_before_its_end_is_retried(wire: WireApi) -> None:
    script = {"turns": [{"items": HI, "truncate": True}, HI]}
    with scripted(script) as server:
        events = await run(server.base_url, wire)
    [retry] = retries(events)
    assert retry.message.startswith("stream closed before")
    assert isinstance(events[-1], Completed)
    # The items of the failed attempt came before the retry notice; the caller drops them.
    after = events[events.index(retry):]
    assert len([e for e in after if isinstance(e, OutputItemDone)]) == 1


@pytest.mark.asyncio
async def test_slow_chunks_below_the_idle_timeout_are_fine() -> None:
    script = {"turns": [{"items": [{"type": "message", "text": "one two three four"}],
                         "chunk_delay": 0.05}]}
    with scripted(script) as server:
        events = await run(server.base_url, stream_idle_timeout_ms=2000)
    assert not retries(events)
    assert isinstance(events[-1], Completed)


@pytest.mark.asyncio
async def test_missing_api_key_names_the_variable_and_sends_nothing() -> None:
    with scripted({"turns": [HI]}) as server, pytest.raises(ModelError) as caught:
        await run(server.base_url, env={})
    assert caught.value.kind is ModelErrorKind.MISSING_API_KEY
    assert "`MOCK_API_KEY`" in str(caught.value)
    assert "`mock`" in str(caught.value)
    assert server.requests == []


@pytest.mark.asyncio
async def test_an_unreachable_server_is_a_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on ``port`` any more.
    with pytest.raises(ModelError) as caught:
        await run(f"http://127.0.0.1:{port}/v1", request_max_retries=1)
    assert caught.value.kind is ModelErrorKind.CONNECTION
    assert f"127.0.0.1:{port}" in str(caught.value)


@pytest.mark.asyncio
async def test_a_server_that_is_not_an_event_stream_is_named() -> None:
    # ``/v1/models`` answers JSON, not SSE: a provider whose base_url points at the wrong place.
    with scripted({"turns": [HI]}) as server:
        info = ModelProviderInfo(base_url=server.base_url, env_key="MOCK_API_KEY")
        client = open_model_client("mock", info, env=ENV)
        client.endpoint = "models"
        try:
            with pytest.raises(ModelError) as caught:
                _ = [e async for e in client.stream(req())]
        finally:
            await client.aclose()
    assert caught.value.kind is ModelErrorKind.BAD_REQUEST
    assert "event stream" in str(caught.value)
