"""What a line of a running turn says to an MCP client, as one progress message."""

from __future__ import annotations

from llmx.events.event_msgs import ItemCompleted, ItemStarted
from llmx.events.lines import RolloutLine
from llmx.events.turn_items import (
    AgentMessageItem,
    CommandExecutionItem,
    FileChangeItem,
    McpToolCallItem,
    PatchApplyStatus,
)
from llmx.projections.shell_escape import join_command


def describe(line: RolloutLine) -> str | None:
    """A short message for a line worth telling (an item that started or ended)."""
    if line.payload_type not in ("item_started", "item_completed"):
        return None
    event = line.item()
    if not isinstance(event, ItemStarted | ItemCompleted):
        return None
    item = event.item
    done = isinstance(event, ItemCompleted)
    if isinstance(item, AgentMessageItem) and done:
        return "agent: " + "".join(part.text for part in item.content)
    if isinstance(item, CommandExecutionItem):
        command = join_command(item.command)
        return f"exec: {command} ({item.status.value})" if done else f"exec: {command}"
    if isinstance(item, McpToolCallItem):
        return f"mcp: {item.server}/{item.tool} ({item.status.value})"
    if isinstance(item, FileChangeItem) and done:
        status = item.status.value if isinstance(item.status, PatchApplyStatus) else "done"
        return f"patch: {', '.join(sorted(item.changes))} ({status})"
    return None
