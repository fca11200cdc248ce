"""The Chat Completions client (``POST {base_url}/chat/completions``, streamed over SSE).

For Ollama, vLLM, llama.cpp, LM Studio and other OpenAI-compatible servers. The stream of
chunks is folded back into the normalised events of ``stream.py``: text and reasoning
deltas as they come, and at the end the complete items (reasoning, message, then the
tool calls in index order), as a Responses stream would deliver them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec

from llmx.events.nesting import check_nesting
from llmx.events.primitives import TokenUsage
from llmx.runtime.models.chat_messages import CUSTOM_TOOL_INPUT_ARG, chat_messages, chat_tools
from llmx.runtime.models.client import HttpModelClient, new_response_id
from llmx.runtime.models.errors import ModelError, ModelErrorKind, error_code_of, kind_for_code
from llmx.runtime.models.items import item_from_wire, items_to_wire
from llmx.runtime.models.request import ModelRequest
from llmx.runtime.models.sse import DONE_SENTINEL, SseTrace, iter_sse
from llmx.runtime.models.stream import (
    Completed,
    Created,
    OutputItemAdded,
    OutputItemDone,
    OutputTextDelta,
    ReasoningContentDelta,
    StreamEvent,
)
from llmx.runtime.models.usage import CHAT_USAGE, usage_from_wire


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def build_chat_body(request: ModelRequest) -> tuple[dict[str, Any], frozenset[str]]:
    tools, custom_tools = chat_tools(request.tools)
    body: dict[str, Any] = {
        "model": request.model,
        "messages": chat_messages(items_to_wire(request.input), request.instructions),
        "stream": True,
        # Without this most servers send no usage at all when streaming.
        "stream_options": {"include_usage": True},
    }
    if tools:
        body["tools"] = tools
        body["tool_choice"] = request.tool_choice.value
        body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.reasoning is not None and request.reasoning.effort is not None:
        body["reasoning_effort"] = request.reasoning.effort
    return body, custom_tools


def chat_usage(raw: object) -> TokenUsage | None:
    return usage_from_wire(raw, CHAT_USAGE)


class _ToolCallParts(msgspec.Struct):
    call_id: str = ""
    name: str = ""
    arguments: list[str] = msgspec.field(default_factory=list)


class _ChatAccumulator(msgspec.Struct):
    """What the chunks said so far."""

    custom_tools: frozenset[str]
    response_id: str = ""
    text: list[str] = msgspec.field(default_factory=list)
    reasoning: list[str] = msgspec.field(default_factory=list)
    tool_calls: dict[int, _ToolCallParts] = msgspec.field(default_factory=dict)
    usage: TokenUsage | None = None
    finished: bool = False

    def add_tool_call_delta(self, delta: dict[str, Any]) -> None:
        index = delta.get("index")
        position = index if isinstance(index, int) else len(self.tool_calls)
        parts = self.tool_calls.setdefault(position, _ToolCallParts())
        if isinstance(delta.get("id"), str) and delta["id"]:
            parts.call_id = delta["id"]
        function = delta.get("function") or {}
        if isinstance(function.get("name"), str) and function["name"]:
            parts.name = function["name"]
        if isinstance(function.get("arguments"), str):
            parts.arguments.append(function["arguments"])

    def items(self) -> list[dict[str, Any]]:
        """The complete items, Responses-shaped, in the order a Responses stream has them."""
        items: list[dict[str, Any]] = []
        if self.reasoning:
            items.append(
                {
                    "type": "reasoning",
                    "id": _new_id("rs"),
                    "summary": [],
                    "content": [{"type": "reasoning_text", "text": "".join(self.reasoning)}],
                }
            )
        if self.text:
            items.append(
                {
                    "type": "message",
                    "id": _new_id("msg"),
                    "status": "completed",
                    "role": "assistant",
                    "content": [
                        {"type": "output_text", "text": "".join(self.text), "annotations": []}
                    ],
                }
            )
        for position in sorted(self.tool_calls):
            parts = self.tool_calls[position]
            call_id = parts.call_id or _new_id("call")
            arguments = "".join(parts.arguments)
            if parts.name in self.custom_tools:
                items.append(
                    {
                        "type": "custom_tool_call",
                        "id": _new_id("ctc"),
                        "status": "completed",
                        "call_id": call_id,
                        "name": parts.name,
                        "input": _custom_input(arguments),
                    }
                )
            else:
                items.append(
                    {
                        "type": "function_call",
                        "id": _new_id("fc"),
                        "status": "completed",
                        "name": parts.name,
                        "arguments": arguments,
                        "call_id": call_id,
                    }
                )
        return items


def _custom_input(arguments: str) -> str:
    try:
        check_nesting(arguments)
        decoded = json.loads(arguments)
    except ValueError:
        return arguments
    if isinstance(decoded, dict) and isinstance(decoded.get(CUSTOM_TOOL_INPUT_ARG), str):
        return str(decoded[CUSTOM_TOOL_INPUT_ARG])
    return arguments


def _chunk_error(error: object) -> ModelError:
    message = error.get("message") if isinstance(error, dict) else None
    text = str(message) if message else json.dumps(error)
    kind = kind_for_code(error_code_of({"error": error})) or ModelErrorKind.SERVER
    return ModelError(kind, text)


class ChatCompletionsClient(HttpModelClient):
    endpoint = "chat/completions"

    def body(self, request: ModelRequest) -> dict[str, Any]:
        return build_chat_body(request)[0]

    async def parse(
        self, response: httpx.Response, request: ModelRequest, trace: SseTrace
    ) -> AsyncIterator[StreamEvent]:
        # Calls of freeform tools come back as custom_tool_call items.
        state = _ChatAccumulator(custom_tools=chat_tools(request.tools)[1])
        yield Created()
        done = False
        async for message in iter_sse(response, trace):
            if message.data.strip() == DONE_SENTINEL:
                done = True
                break
            chunk = message.json
            if not isinstance(chunk, dict):
                continue
            if "error" in chunk:
                raise _chunk_error(chunk["error"])
            if isinstance(chunk.get("id"), str) and not state.response_id:
                state.response_id = chunk["id"]
            if chunk.get("usage") is not None:
                state.usage = chat_usage(chunk["usage"])
            for choice in chunk.get("choices") or []:
                if not isinstance(choice, dict):
                    continue
                delta = choice.get("delta") or {}
                content = delta.get("content")
                if isinstance(content, str) and content:
                    if not state.text:
                        started = {"type": "message", "role": "assistant", "content": []}
                        typed = item_from_wire(started)
                        if typed is not None:
                            yield OutputItemAdded(typed, started)
                    state.text.append(content)
                    yield OutputTextDelta(content)
                # vLLM and llama.cpp say ``reasoning_content``; Ollama says ``reasoning``.
                thinking = delta.get("reasoning_content") or delta.get("reasoning")
                if isinstance(thinking, str) and thinking:
                    state.reasoning.append(thinking)
                    yield ReasoningContentDelta(thinking)
                for call in delta.get("tool_calls") or []:
                    if isinstance(call, dict):
                        state.add_tool_call_delta(call)
                if choice.get("finish_reason"):
                    state.finished = True
        if not done and not state.finished:
            raise ModelError(ModelErrorKind.STREAM_INCOMPLETE, "stream closed before [DONE]")
        for raw in state.items():
            item = item_from_wire(raw)
            if item is not None:
                yield OutputItemDone(item, raw)
        yield Completed(state.response_id or new_response_id(), state.usage)
