"""The Responses API client (``POST {base_url}/responses``, streamed over SSE)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from llmx.runtime.models.client import HttpModelClient
from llmx.runtime.models.errors import ModelError, ModelErrorKind, error_code_of, kind_for_code
from llmx.runtime.models.items import item_from_wire, items_to_wire
from llmx.runtime.models.request import REASONING_INCLUDE, ModelRequest
from llmx.runtime.models.retry import delay_from_message
from llmx.runtime.models.sse import SseTrace, iter_sse
from llmx.runtime.models.stream import (
    Completed,
    Created,
    OutputItemAdded,
    OutputItemDone,
    OutputTextDelta,
    ReasoningContentDelta,
    ReasoningSummaryDelta,
    ReasoningSummaryPartAdded,
    StreamEvent,
)
from llmx.runtime.models.usage import RESPONSES_USAGE, usage_from_wire, wire_count


def build_responses_body(request: ModelRequest) -> dict[str, Any]:
    """The request body, with Codex's keys in Codex's order."""
    body: dict[str, Any] = {"model": request.model}
    if request.instructions is not None:
        body["instructions"] = request.instructions
    body["stream"] = True
    # The client encodes the body with msgspec, which splices restored history as is.
    body["input"] = items_to_wire(request.input, keep_raw=True)
    body["tools"] = list(request.tools)
    body["tool_choice"] = request.tool_choice.value
    body["parallel_tool_calls"] = request.parallel_tool_calls
    body["reasoning"] = request.reasoning.to_wire() if request.reasoning is not None else None
    body["store"] = False
    body["include"] = list(REASONING_INCLUDE) if request.reasoning is not None else []
    body["prompt_cache_key"] = request.prompt_cache_key or request.identity.thread_id
    if request.text is not None:
        body["text"] = request.text
    if request.client_metadata is not None:
        body["client_metadata"] = request.client_metadata
    return body


def failed_response_error(response: object) -> ModelError:
    """The error carried by a ``response.failed`` event, classified as Codex does."""
    error = response.get("error") if isinstance(response, dict) else None
    if not isinstance(error, dict):
        return ModelError(ModelErrorKind.SERVER, "response.failed event received")
    message = str(error.get("message") or "response.failed event received")
    kind = kind_for_code(error_code_of({"error": error})) or ModelErrorKind.SERVER
    retry_after = None
    if error.get("code") == "rate_limit_exceeded":
        retry_after = delay_from_message(message)
    return ModelError(kind, message, retry_after=retry_after)


class ResponsesClient(HttpModelClient):
    endpoint = "responses"

    def body(self, request: ModelRequest) -> dict[str, Any]:
        return build_responses_body(request)

    async def parse(
        self, response: httpx.Response, request: ModelRequest, trace: SseTrace
    ) -> AsyncIterator[StreamEvent]:
        async for message in iter_sse(response, trace):
            event = message.json
            if not isinstance(event, dict):
                continue
            kind = event.get("type") or message.event
            if kind == "response.created":
                yield Created()
            elif kind == "response.output_text.delta":
                if isinstance(event.get("delta"), str):
                    yield OutputTextDelta(event["delta"])
            elif kind == "response.reasoning_summary_text.delta":
                if isinstance(event.get("delta"), str):
                    index = wire_count(event.get("summary_index"))
                    yield ReasoningSummaryDelta(event["delta"], index)
            elif kind == "response.reasoning_summary_part.added":
                yield ReasoningSummaryPartAdded(wire_count(event.get("summary_index")))
            elif kind == "response.reasoning_text.delta":
                if isinstance(event.get("delta"), str):
                    index = wire_count(event.get("content_index"))
                    yield ReasoningContentDelta(event["delta"], index)
            elif kind in ("response.output_item.added", "response.output_item.done"):
                raw = event.get("item")
                if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
                    continue
                item = item_from_wire(raw)
                if item is None:
                    continue
                if kind == "response.output_item.done":
                    yield OutputItemDone(item, dict(raw))
                else:
                    yield OutputItemAdded(item, dict(raw))
            elif kind == "response.completed":
                completed = event.get("response")
                if not isinstance(completed, dict):
                    continue
                response_id = completed.get("id")
                yield Completed(
                    str(response_id) if response_id is not None else "",
                    usage_from_wire(completed.get("usage"), RESPONSES_USAGE),
                )
                return
            elif kind == "response.failed":
                raise failed_response_error(event.get("response"))
            elif kind == "response.incomplete":
                details = (event.get("response") or {}).get("incomplete_details") or {}
                reason = details.get("reason", "unknown") if isinstance(details, dict) else details
                raise ModelError(
                    ModelErrorKind.STREAM_INCOMPLETE,
                    f"Incomplete response returned, reason: {reason}",
                )
        raise ModelError(
            ModelErrorKind.STREAM_INCOMPLETE, "stream closed before response.completed"
        )
