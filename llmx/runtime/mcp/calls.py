"""One call of an MCP tool: its approval, its record, the text the model gets.

The call is an ``McpToolCall`` item: ``item_started`` (in progress) when the call
begins, ``item_completed`` with the result or the error and the duration when it ends,
as Codex records it. Whether it may run follows Codex: nothing is asked under
``danger-full-access``, for a tool whose ``approval_mode`` is ``approve``, or, with
``auto``, for a tool the server marks read-only; otherwise the user is asked (with
approval policy ``never`` the call fails instead). The question is an
``elicitation_request`` answered by a ``resolve_elicitation`` submission, logged with
who decided before the call runs, like every approval.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from llmx.events.event_msgs import ElicitationRequest
from llmx.events.ops import ReviewDecision
from llmx.events.primitives import Duration
from llmx.events.turn_items import McpToolCallError, McpToolCallItem, ToolCallStatus
from llmx.runtime.approvals import approves
from llmx.runtime.config.types import ApprovalPolicy
from llmx.runtime.mcp.config import ToolApproval
from llmx.runtime.mcp.forms import check_content
from llmx.runtime.tool_context import ToolContext, now_ms

if TYPE_CHECKING:
    from llmx.runtime.mcp.connections import McpConnections, McpServer, McpTool

NEVER_REFUSAL = "MCP tool call requires approval, but approval policy is never"
DECLINED = "user rejected MCP tool call"
CANCELLED = "user cancelled MCP tool call"
ABORTED = "aborted by user"
# The prefix of the elicitation id of an approval question (Codex's).
APPROVAL_ID_PREFIX = "mcp_tool_call_approval"
# The prefix of the id of a question a server asks during one of its calls.
ELICITATION_ID_PREFIX = "mcp_elicitation"
# The result keys a rollout keeps (Codex's ``CallToolResult``); ``_meta`` and the like
# are the transport's business.
_RESULT_KEYS = ("content", "structuredContent", "isError")


def approval_question(server: str, tool: str) -> str:
    return f'Allow the {server} MCP server to run tool "{tool}"?'


async def call_tool(
    tools: ToolContext, connections: McpConnections, server: McpServer, tool: McpTool,
    call_id: str, payload: str,
) -> str:
    """Run the call the model made; the text it gets back."""
    started = time.monotonic()
    started_ms = now_ms()
    try:
        arguments = _arguments(payload)
    except ValueError as exc:
        return f"err: {exc}"
    item = McpToolCallItem(
        id=call_id, server=server.name, tool=tool.name,
        arguments=arguments if arguments is not None else {},
        status=ToolCallStatus.IN_PROGRESS,
    )
    await tools.item_started(item, started_ms)
    try:
        refusal = await _approval(tools, server, tool, call_id, arguments)
        if refusal is not None:
            await _end(tools, item, started_ms, None, refusal, seconds=0.0)
            return _output(time.monotonic() - started, refusal)
        call_started = time.monotonic()
        server.ask = _asker(tools, server, call_id)
        try:
            result = await connections.call(server, tool.name, arguments)
        except Exception as exc:  # McpCallError, and anything the transport raised
            message = str(exc)
            await _end(tools, item, started_ms, None, message,
                       seconds=time.monotonic() - call_started)
            return _output(time.monotonic() - started, message)
        kept = {key: result[key] for key in _RESULT_KEYS if key in result}
        await _end(tools, item, started_ms, kept, None,
                   seconds=time.monotonic() - call_started)
        return _output(time.monotonic() - started, _result_text(kept))
    except asyncio.CancelledError:
        # An interrupt: the call ends as failed, on record before the turn's abort lines.
        await _end(tools, item, started_ms, None, ABORTED,
                   seconds=time.monotonic() - started)
        raise
    finally:
        server.ask = None


def _asker(
    tools: ToolContext, server: McpServer, call_id: str
) -> Callable[[str, dict[str, Any] | None], Awaitable[tuple[str, dict[str, Any] | None]]]:
    """How the server's questions during this call are asked: as approvals are (an
    ``elicitation_request`` answered by a logged ``resolve_elicitation``). A form's
    answer is held to its schema: content that does not fit declines."""
    asked = itertools.count(1)

    async def ask(message: str, schema: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
        form = schema if schema is not None else {"type": "object", "properties": {}}
        request = ElicitationRequest(
            server_name=server.name, id=f"{ELICITATION_ID_PREFIX}_{call_id}_{next(asked)}",
            message=message, turn_id=tools.turn_id,
            request={"mode": "form", "message": message, "requested_schema": form},
        )
        answer = await tools.ask_elicitation(request)
        if not approves(answer.decision):
            return ("cancel" if answer.decision is ReviewDecision.ABORT else "decline"), None
        if schema is None:
            return "accept", {}
        if check_content(schema, answer.content) is not None:
            # The frontends check answers before they submit them; one that did not
            # gives the server nothing it did not ask for.
            return "decline", None
        return "accept", answer.content

    return ask


async def _approval(
    tools: ToolContext, server: McpServer, tool: McpTool, call_id: str,
    arguments: dict[str, Any] | None,
) -> str | None:
    """None when the call may run; otherwise why it may not."""
    settings = tools.settings
    if not settings.sandbox.filesystem_restricted:
        return None
    mode = server.config.approval_mode(tool.name)
    if mode is ToolApproval.APPROVE:
        return None
    if mode is ToolApproval.AUTO and tool.read_only:
        return None
    key = f"mcp\0{server.name}\0{tool.name}"
    if tools.approvals.covers([key]):
        return None
    if settings.approval_policy is ApprovalPolicy.NEVER:
        return NEVER_REFUSAL
    question = approval_question(server.name, tool.name)
    request = ElicitationRequest(
        server_name=server.name,
        id=f"{APPROVAL_ID_PREFIX}_{call_id}",
        message=question,
        turn_id=tools.turn_id,
        request={"mode": "form", "message": question,
                 "requested_schema": {"type": "object", "properties": {}},
                 "_meta": {"codex_approval_kind": "mcp_tool_call", "tool_name": tool.name,
                           "tool_description": tool.description,
                           "tool_params": arguments if arguments is not None else {}}},
    )
    answer = await tools.ask_elicitation(request)
    if answer.decision is ReviewDecision.APPROVED_FOR_SESSION:
        tools.approvals.remember([key])
    if approves(answer.decision):
        return None
    return CANCELLED if answer.decision is ReviewDecision.ABORT else DECLINED


async def _end(
    tools: ToolContext, item: McpToolCallItem, started_ms: int,
    result: dict[str, Any] | None, error: str | None, *, seconds: float,
) -> None:
    whole = int(seconds)
    done = McpToolCallItem(
        id=item.id, server=item.server, tool=item.tool, arguments=item.arguments,
        status=ToolCallStatus.FAILED if error is not None or (result or {}).get("isError")
        else ToolCallStatus.COMPLETED,
        duration=Duration(secs=whole, nanos=int((seconds - whole) * 1e9)),
    )
    if result is not None:
        done.result = result
    if error is not None:
        done.error = McpToolCallError(message=error)
    await tools.item_completed(done, started_ms, now_ms())


def _arguments(payload: str) -> dict[str, Any] | None:
    if not payload.strip():
        return None
    parsed = json.loads(payload)
    if not isinstance(parsed, dict):
        raise ValueError("tool arguments must be a JSON object")
    return parsed


def _result_text(result: dict[str, Any]) -> str:
    """What the model reads of a result: its structured content when there is one (as
    Codex sends it), else its text parts, other parts as JSON."""
    structured = result.get("structuredContent")
    if structured is not None:
        return json.dumps(structured, separators=(",", ":"), ensure_ascii=False)
    parts: list[str] = []
    for block in result.get("content") or []:
        if isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif isinstance(block, dict) and block.get("type") == "image":
            parts.append("<image content omitted because you do not support image input>")
        else:
            parts.append(json.dumps(block, separators=(",", ":"), ensure_ascii=False))
    return "\n".join(parts)


def _output(seconds: float, text: str) -> str:
    return f"Wall time: {seconds:.4f} seconds\nOutput:\n{text}"
