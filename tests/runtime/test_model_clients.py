"""Both model clients against the real loopback model server: every event kind, both wires."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.model_server import ModelServer, scripted

from llmx.events.primitives import TokenUsage
from llmx.events.response_items import CustomToolCall, FunctionCall, Message
from llmx.runtime.config.tables import ModelProviderInfo, WireApi
from llmx.runtime.models.request import ModelRequest, Reasoning, RequestIdentity
from llmx.runtime.models.stream import (
    Completed,
    Created,
    OutputItemDone,
    OutputTextDelta,
    ReasoningContentDelta,
    ReasoningSummaryDelta,
    RequestSent,
    StreamEvent,
)
from llmx.runtime.models.wires import open_model_client

THREAD = "01a1fc90-8da8-7d30-93b1-6d7340eae588"
ENV = {"MOCK_API_KEY": "dummy"}
EXEC_COMMAND_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "exec_command",
    "description": "Runs a command.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {"cmd": {"type": "string"}},
        "required": ["cmd"],
        "additionalProperties": False,
    },
}
APPLY_PATCH_TOOL: dict[str, Any] = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Edit files with a patch.",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"},
}
PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n"


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def provider(server: ModelServer, wire: WireApi, **settings: Any) -> ModelProviderInfo:
    return ModelProviderInfo(
        name="Mock", base_url=server.base_url, env_key="MOCK_API_KEY", wire_api=wire, **settings
    )


def request(*items: dict[str, Any], **fields: Any) -> ModelRequest:
    return ModelRequest(
        model="mock-model",
        input=list(items) or [user("say hi")],
        identity=RequestIdentity(thread_id=THREAD),
        tools=fields.pop("tools", [EXEC_COMMAND_TOOL, APPLY_PATCH_TOOL]),
        **fields,
    )


async def collect(server: ModelServer, wire: WireApi, req: ModelRequest) -> list[StreamEvent]:
    client = open_model_client("mock", provider(server, wire), env=ENV)
    try:
        return [event async for event in client.stream(req)]
    finally:
        await client.aclose()


def done_items(events: list[StreamEvent]) -> list[dict[str, Any]]:
    return [e.raw for e in events if isinstance(e, OutputItemDone)]


WIRES = pytest.mark.parametrize("wire", [WireApi.RESPONSES, WireApi.CHAT], ids=lambda w: w.value)


@WIRES
@pytest.mark.asyncio
async def test_message_streams_deltas_then_the_item_then_completed(wire: WireApi) -> None:
    with scripted({"turns": [[{"type": "message", "text": "Hi! (from the mock)"}]]}) as server:
        events = await collect(server, wire, request())
    # The request reached the server, then the server started a response.
    assert isinstance(events[0], RequestSent)
    assert isinstance(events[1], Created)
    deltas = "".join(e.delta for e in events if isinstance(e, OutputTextDelta))
    assert deltas == "Hi! (from the mock)"
    [message] = done_items(events)
    [typed] = [e.item for e in events if isinstance(e, OutputItemDone)]
    assert isinstance(typed, Message)
    assert typed.text() == "Hi! (from the mock)"
    assert message["type"] == "message"
    assert message["role"] == "assistant"
    assert message["content"][0]["text"] == "Hi! (from the mock)"
    assert isinstance(events[-1], Completed)
    assert events[-1].usage == TokenUsage(
        input_tokens=100, cached_input_tokens=0, output_tokens=10, total_tokens=110
    )
    assert events[-1].response_id


@WIRES
@pytest.mark.asyncio
async def test_reasoning_then_message(wire: WireApi) -> None:
    script = {"turns": [[{"type": "reasoning", "summary": "**Thinking** about how to greet"},
                         {"type": "message", "text": "Hi, after some reasoning."}]]}
    with scripted(script) as server:
        events = await collect(server, wire, request())
    reasoning, message = done_items(events)
    assert reasoning["type"] == "reasoning"
    assert message["content"][0]["text"] == "Hi, after some reasoning."
    if wire is WireApi.RESPONSES:
        summary = "".join(e.delta for e in events if isinstance(e, ReasoningSummaryDelta))
        assert reasoning["summary"] == [
            {"type": "summary_text", "text": "**Thinking** about how to greet"}
        ]
    else:
        # Chat servers stream raw reasoning text; it becomes the item's reasoning content.
        summary = "".join(e.delta for e in events if isinstance(e, ReasoningContentDelta))
        assert reasoning["content"] == [
            {"type": "reasoning_text", "text": "**Thinking** about how to greet"}
        ]
    assert summary == "**Thinking** about how to greet"


@WIRES
@pytest.mark.asyncio
async def test_function_call_arrives_whole_with_json_arguments(wire: WireApi) -> None:
    script = {"turns": [[{"type": "shell", "command": "echo hello > out.txt && cat out.txt"}]]}
    with scripted(script) as server:
        events = await collect(server, wire, request())
    [call] = done_items(events)
    [typed] = [e.item for e in events if isinstance(e, OutputItemDone)]
    assert isinstance(typed, FunctionCall)
    assert (typed.name, typed.call_id, typed.arguments) == (
        call["name"], call["call_id"], call["arguments"]
    )
    assert call["type"] == "function_call"
    assert call["name"] == "exec_command"
    assert json.loads(call["arguments"]) == {"cmd": "echo hello > out.txt && cat out.txt"}
    assert call["call_id"].startswith("call_")
    assert isinstance(events[-1], Completed)


@WIRES
@pytest.mark.asyncio
async def test_custom_tool_call_for_apply_patch(wire: WireApi) -> None:
    script = {"turns": [[{"type": "custom_tool_call", "name": "apply_patch", "input": PATCH}]]}
    with scripted(script) as server:
        events = await collect(server, wire, request())
    [call] = done_items(events)
    [typed] = [e.item for e in events if isinstance(e, OutputItemDone)]
    assert isinstance(typed, CustomToolCall)
    assert typed.input == PATCH
    assert call["type"] == "custom_tool_call"
    assert call["name"] == "apply_patch"
    assert call["input"] == PATCH
    if wire is WireApi.CHAT:
        # Over chat the freeform tool travels as a function with one string argument.
        [tool] = [t for t in server.model_requests()[0].body["tools"]
                  if t["function"]["name"] == "apply_patch"]
        assert tool["function"]["parameters"]["required"] == ["input"]


@WIRES
@pytest.mark.asyncio
async def test_several_tool_calls_keep_their_order(wire: WireApi) -> None:
    script = {"turns": [[
        {"type": "message", "text": "Two things."},
        {"type": "function_call", "name": "exec_command", "arguments": {"cmd": "ls"}},
        {"type": "function_call", "name": "exec_command", "arguments": {"cmd": "pwd"}},
    ]]}
    with scripted(script) as server:
        events = await collect(server, wire, request())
    kinds = [(i["type"], i.get("arguments")) for i in done_items(events)]
    assert kinds == [
        ("message", None),
        ("function_call", json.dumps({"cmd": "ls"})),
        ("function_call", json.dumps({"cmd": "pwd"})),
    ]


@WIRES
@pytest.mark.asyncio
async def test_usage_from_the_script_is_reported(wire: WireApi) -> None:
    usage = {"input_tokens": 2000, "input_tokens_details": {"cached_tokens": 1500},
             "output_tokens": 30, "output_tokens_details": {"reasoning_tokens": 7},
             "total_tokens": 2030}
    script = {"turns": [{"items": [{"type": "message", "text": "ok"}], "usage": usage}]}
    with scripted(script) as server:
        events = await collect(server, wire, request())
    assert isinstance(events[-1], Completed)
    assert events[-1].usage == TokenUsage(
        input_tokens=2000, cached_input_tokens=1500, output_tokens=30,
        reasoning_output_tokens=7, total_tokens=2030,
    )


@pytest.mark.asyncio
async def test_responses_request_has_codex_headers_and_body() -> None:
    reasoning = Reasoning(summary="auto")
    with scripted({"turns": [[{"type": "message", "text": "hi"}]]}) as server:
        await collect(server, WireApi.RESPONSES, request(reasoning=reasoning))
    [sent] = server.model_requests()
    assert sent.path == "/v1/responses"
    headers = sent.headers
    assert headers["authorization"] == "Bearer dummy"
    assert headers["originator"] == "llmx_exec"
    assert headers["session-id"] == THREAD
    assert headers["thread-id"] == THREAD
    assert headers["x-client-request-id"] == THREAD
    assert headers["accept"] == "text/event-stream"
    assert headers["user-agent"].startswith("llmx_exec/")
    body = sent.body
    assert list(body) == [
        "model", "stream", "input", "tools", "tool_choice", "parallel_tool_calls",
        "reasoning", "store", "include", "prompt_cache_key",
    ]
    assert body["model"] == "mock-model"
    assert body["stream"] is True
    assert body["tool_choice"] == "auto"
    assert body["parallel_tool_calls"] is True
    assert body["reasoning"] == {"summary": "auto"}
    assert body["store"] is False
    assert body["include"] == ["reasoning.encrypted_content"]
    assert body["prompt_cache_key"] == THREAD
    assert body["input"] == [user("say hi")]
    assert body["tools"] == [EXEC_COMMAND_TOOL, APPLY_PATCH_TOOL]


@pytest.mark.asyncio
async def test_responses_body_keys_match_what_codex_sent(
    codex_request_body: dict[str, Any],
) -> None:
    """Replaying a request Codex 0.169 made gives the same body, key for key."""
    original = codex_request_body
    req = ModelRequest(
        model=original["model"],
        input=original["input"],
        identity=RequestIdentity(thread_id=original["prompt_cache_key"]),
        tools=original["tools"],
        reasoning=Reasoning(**original["reasoning"]),
        text=original.get("text"),
        client_metadata=original["client_metadata"],
    )
    with scripted({"turns": [[{"type": "message", "text": "hi"}]]}) as server:
        await collect(server, WireApi.RESPONSES, req)
    [sent] = server.model_requests()
    assert list(sent.body) == list(original)
    assert sent.body == original


@pytest.fixture(params=["exec_json", "apply_patch_gpt55_json"])
def codex_request_body(request: pytest.FixtureRequest) -> dict[str, Any]:
    from support import CODEX_FIXTURES

    path = CODEX_FIXTURES / "requests" / f"{request.param}.requests.jsonl"
    first = path.read_text(encoding="utf-8").splitlines()[0]
    body: dict[str, Any] = json.loads(first)["body"]
    return body


@pytest.mark.asyncio
async def test_provider_headers_query_params_and_env_headers() -> None:
    with scripted({"turns": [[{"type": "message", "text": "hi"}]]}) as server:
        info = provider(
            server, WireApi.RESPONSES,
            query_params={"api-version": "2025-04-01"},
            http_headers={"x-static": "one"},
            env_http_headers={"x-from-env": "MOCK_ORG", "x-unset": "MOCK_UNSET"},
        )
        client = open_model_client("mock", info, env={**ENV, "MOCK_ORG": "org-7"},
                                   originator="codex_exec")
        try:
            _ = [e async for e in client.stream(request())]
        finally:
            await client.aclose()
    [sent] = server.model_requests()
    assert sent.path == "/v1/responses?api-version=2025-04-01"
    assert sent.headers["x-static"] == "one"
    assert sent.headers["x-from-env"] == "org-7"
    assert "x-unset" not in sent.headers
    assert sent.headers["originator"] == "codex_exec"


@pytest.mark.asyncio
async def test_chat_request_translates_history_into_messages() -> None:
    history = [
        {"type": "message", "role": "developer",
         "content": [{"type": "input_text", "text": "You are a coding agent."}]},
        user("write hello to out.txt"),
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}]},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "Running it."}]},
        {"type": "function_call", "name": "exec_command", "arguments": '{"cmd": "echo hello"}',
         "call_id": "call_1"},
        {"type": "function_call_output", "call_id": "call_1", "output": "hello\n"},
        {"type": "custom_tool_call", "name": "apply_patch", "input": PATCH, "call_id": "call_2"},
        {"type": "custom_tool_call_output", "call_id": "call_2", "output": "Success."},
    ]
    with scripted({"turns": [[{"type": "message", "text": "done"}]]}) as server:
        await collect(server, WireApi.CHAT, request(*history))
    [sent] = server.model_requests()
    assert sent.path == "/v1/chat/completions"
    body = sent.body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [
        {"role": "system", "content": "You are a coding agent."},
        {"role": "user", "content": "write hello to out.txt"},
        {"role": "assistant", "content": "Running it.", "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "exec_command", "arguments": '{"cmd": "echo hello"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "hello\n"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_2", "type": "function",
             "function": {"name": "apply_patch", "arguments": json.dumps({"input": PATCH})}}]},
        {"role": "tool", "tool_call_id": "call_2", "content": "Success."},
    ]
    assert [t["function"]["name"] for t in body["tools"]] == ["exec_command", "apply_patch"]
    assert body["tool_choice"] == "auto"
