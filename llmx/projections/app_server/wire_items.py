"""Turn items of the rollout as the app-server's v2 ``ThreadItem`` objects.

The rollout keeps Codex's core items (``item_completed`` payloads, PascalCase tags,
snake_case fields); the app-server sends the same facts camelCased, flattened and with
every optional field present (``null`` when unknown), as Codex 0.169 serialises them. The
Python SDK validates each ``item/completed`` item against its models and silently drops
one that lacks a required field, so every variant here fills all of them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from msgspec import UNSET

from llmx.events.primitives import (
    AddFile,
    DeleteFile,
    Duration,
    FileChange,
    ImageInput,
    ListFilesCommand,
    LocalImageInput,
    ParsedCommand,
    ReadCommand,
    SearchCommand,
    SkillInput,
    TextInput,
    UserInput,
)
from llmx.events.turn_items import (
    AgentMessageItem,
    CommandExecutionItem,
    ContextCompactionItem,
    FileChangeItem,
    ImageViewItem,
    McpToolCallItem,
    PlanItem,
    ReasoningItem,
    TurnItem,
    UserMessageItem,
    WebSearchItem,
)
from llmx.projections.shell_escape import join_command

WireItem = dict[str, Any]


def _unset_to_none(value: Any) -> Any:
    return None if value is UNSET else value


def _duration_ms(duration: Duration | Any) -> int | None:
    if isinstance(duration, Duration):
        return duration.secs * 1000 + duration.nanos // 1_000_000
    return None


def plain_path(value: str) -> str:
    """A path as the wire shows it: Codex's core items may carry a ``file://`` URL."""
    if value.startswith("file://"):
        return unquote(value[len("file://"):])
    return value


def camel_case(snake: str) -> str:
    """``unified_exec_startup`` -> ``unifiedExecStartup``."""
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


def wire_user_input(part: UserInput) -> dict[str, Any]:
    """One ``UserInput`` as the v2 protocol spells it (``localImage``, ``url``)."""
    if isinstance(part, TextInput):
        elements = [
            {"byteRange": {"start": e.byte_range.start, "end": e.byte_range.end},
             "placeholder": _unset_to_none(e.placeholder)}
            for e in part.text_elements
        ]
        return {"type": "text", "text": part.text, "text_elements": elements}
    if isinstance(part, ImageInput):
        return {"type": "image", "url": part.image_url, "detail": _unset_to_none(part.detail)}
    if isinstance(part, LocalImageInput):
        return {"type": "localImage", "path": part.path, "detail": _unset_to_none(part.detail)}
    if isinstance(part, SkillInput):
        return {"type": "skill", "name": part.name, "path": part.path}
    raise TypeError(f"not a user input: {part!r}")


def command_action(parsed: ParsedCommand) -> dict[str, Any]:
    """``ParsedCommand`` as the v2 ``CommandAction`` (``cmd`` becomes ``command``)."""
    if isinstance(parsed, ReadCommand):
        return {"type": "read", "command": parsed.cmd, "name": parsed.name,
                "path": _unset_to_none(parsed.path) or parsed.name}
    if isinstance(parsed, ListFilesCommand):
        return {"type": "listFiles", "command": parsed.cmd, "path": parsed.path}
    if isinstance(parsed, SearchCommand):
        return {"type": "search", "command": parsed.cmd, "query": parsed.query,
                "path": parsed.path}
    return {"type": "unknown", "command": parsed.cmd}


def file_update_change(path: str, change: FileChange) -> dict[str, Any]:
    """One entry of a ``fileChange`` item: the new content for an add, the old content for
    a delete, the unified diff for an update."""
    if isinstance(change, AddFile):
        return {"path": path, "kind": {"type": "add"}, "diff": change.content}
    if isinstance(change, DeleteFile):
        return {"path": path, "kind": {"type": "delete"}, "diff": change.content}
    return {"path": path, "kind": {"type": "update", "move_path": change.move_path},
            "diff": change.unified_diff}


def _mcp_result(result: Any) -> Any:
    if not isinstance(result, dict):
        return None
    # The core item keeps serde's ``Result``: {"Ok": CallToolResult} or {"Err": text}.
    ok = result.get("Ok", result)
    if not isinstance(ok, dict) or "content" not in ok:
        return None
    return {
        "content": ok.get("content", []),
        "structuredContent": ok.get("structuredContent", ok.get("structured_content")),
        "_meta": ok.get("_meta"),
    }


def wire_item(item: TurnItem) -> WireItem:
    """``item`` as a v2 ``ThreadItem`` (without the ``startedAtMs``/``completedAtMs``
    extras, which :func:`with_times` adds)."""
    if isinstance(item, UserMessageItem):
        return {"type": "userMessage", "id": item.id, "clientId": _unset_to_none(item.client_id),
                "content": [wire_user_input(part) for part in item.content]}
    if isinstance(item, AgentMessageItem):
        return {"type": "agentMessage", "moderation": None, "id": item.id, "text": item.text(),
                "phase": _unset_to_none(item.phase),
                "memoryCitation": _unset_to_none(item.memory_citation),
                "delivery": None, "questions": None}
    if isinstance(item, ReasoningItem):
        return {"type": "reasoning", "id": item.id, "summary": list(item.summary_text),
                "content": list(item.raw_content)}
    if isinstance(item, CommandExecutionItem):
        return {
            "type": "commandExecution", "id": item.id, "pluginId": None, "scriptPath": None,
            "command": join_command(item.command), "cwd": plain_path(item.cwd),
            "processId": _unset_to_none(item.process_id), "source": camel_case(item.source),
            "status": item.status.value,
            "commandActions": [command_action(parsed) for parsed in item.parsed_cmd],
            "aggregatedOutput": _unset_to_none(item.aggregated_output),
            "exitCode": _unset_to_none(item.exit_code),
            "durationMs": _duration_ms(item.duration),
        }
    if isinstance(item, FileChangeItem):
        status = item.status.value if item.status is not UNSET else "completed"
        return {"type": "fileChange", "id": item.id,
                "changes": [file_update_change(p, c) for p, c in sorted(item.changes.items())],
                "status": status}
    if isinstance(item, McpToolCallItem):
        error = None if item.error is UNSET else {"message": item.error.message}
        return {
            "type": "mcpToolCall", "id": item.id, "server": item.server, "tool": item.tool,
            "status": item.status.value, "arguments": item.arguments,
            "appContext": None, "mcpAppUi": None, "pluginId": None, "readOnlyHint": None,
            "result": _mcp_result(_unset_to_none(item.result)), "error": error,
            "durationMs": _duration_ms(item.duration),
        }
    if isinstance(item, WebSearchItem):
        return {"type": "webSearch", "id": item.id, "query": item.query, "action": item.action}
    if isinstance(item, ImageViewItem):
        return {"type": "imageView", "id": item.id, "path": item.path}
    if isinstance(item, PlanItem):
        return {"type": "plan", "id": item.id, "text": item.text}
    if isinstance(item, ContextCompactionItem):
        return {"type": "contextCompaction", "id": item.id}
    raise TypeError(f"not a turn item: {item!r}")


def with_times(item: WireItem, started_ms: int | None, completed_ms: int | None) -> WireItem:
    """``item`` with Codex's ``startedAtMs``/``completedAtMs`` members (not in the schema,
    sent by Codex 0.169 on every item)."""
    return {**item, "startedAtMs": started_ms, "completedAtMs": completed_ms}


def started_view(item: WireItem) -> WireItem:
    """The item as ``item/started`` announces it: an agent message with no text yet."""
    if item["type"] == "agentMessage":
        return {**item, "text": ""}
    if item["type"] == "reasoning":
        return {**item, "summary": [], "content": []}
    return item
