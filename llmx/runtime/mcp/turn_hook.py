"""What a turn asks of the thread's MCP servers: the tools to offer, and the calls.

Before each model request the turn offers the tools of the servers that are ready then,
and records each server's state the first time the turn sees it (``mcp_startup_update``):
a server still starting when the thread's first request goes out is on record as
starting, and as ready once a later request carries its tools.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmx.events.event_msgs import McpStartupStatus, McpStartupUpdate
from llmx.runtime.mcp import names
from llmx.runtime.mcp.calls import call_tool
from llmx.runtime.mcp.connections import McpConnections, ServerState
from llmx.runtime.tool_context import ToolContext
from llmx.runtime.tools.specs import WireApi

if TYPE_CHECKING:
    from llmx.runtime.mcp.connections import McpServer, McpTool


async def offered_tools(tools: ToolContext, connections: McpConnections) -> list[dict[str, Any]]:
    """The MCP tools for the next request (after recording what changed since the last)."""
    updates: list[McpStartupUpdate] = []
    for server in connections.servers.values():
        if connections.reported.get(server.name) is server.state:
            continue
        connections.reported[server.name] = server.state
        status = McpStartupStatus(state=server.state.value)
        if server.error is not None:
            status.error = server.error
        updates.append(McpStartupUpdate(server=server.name, status=status))
    if updates:
        await tools.record(*updates)
    ready = [server for server in connections.servers.values()
             if server.state is ServerState.READY and server.tools]
    if tools.settings.wire_api is WireApi.RESPONSES:
        return [_namespace(server) for server in ready]
    return [{"type": "function", "function": {
        "name": names.qualified(server.name, tool.name),
        "description": tool.description,
        "parameters": _schema(tool),
    }} for server in ready for tool in server.tools]


async def dispatch(
    tools: ToolContext, connections: McpConnections, namespace: str | None, name: str,
    call_id: str, payload: str,
) -> str | None:
    """The output of the call if it names an MCP tool (``namespace`` + tool, or the
    qualified ``mcp__SERVER__TOOL``); None if it names none."""
    found = _resolve(connections, namespace, name)
    if found is None:
        return None
    server, tool = found
    return await call_tool(tools, connections, server, tool, call_id, payload)


def _resolve(
    connections: McpConnections, namespace: str | None, name: str
) -> tuple[McpServer, McpTool] | None:
    for server in connections.servers.values():
        if server.state is not ServerState.READY:
            continue
        in_namespace = namespace is not None and namespace == names.namespace(server.name)
        for tool in server.tools:
            if in_namespace and name == names.tool_name(tool.name):
                return server, tool
            if namespace is None and name == names.qualified(server.name, tool.name):
                return server, tool
    return None


def _namespace(server: McpServer) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "namespace", "name": names.namespace(server.name)}
    if server.description:
        spec["description"] = server.description
    spec["tools"] = [{
        "type": "function",
        "name": names.tool_name(tool.name),
        "description": tool.description,
        "strict": False,
        "parameters": _schema(tool),
    } for tool in server.tools]
    return spec


def _schema(tool: McpTool) -> dict[str, Any]:
    """The tool's input schema as a model API takes it: an object with properties."""
    schema = dict(tool.input_schema)
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    return schema
