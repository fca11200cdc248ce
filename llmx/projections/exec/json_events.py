"""``exec --json``: Codex's JSONL thread events as a fold over rollout lines.

Each event is a plain dict in Codex's key order; :func:`encode_event` writes it the way
serde does (compact, UTF-8 unescaped). Item ids (``item_0``, ``item_1``, ...) count from
zero for each ``exec`` run, which is one turn: a replay of a multi-turn session prints one
``thread.started`` ... ``turn.completed`` block per turn, as the runs did live.
"""

from __future__ import annotations

import json
from typing import Any

from llmx.events.lines import RolloutLine
from llmx.projections.exec import items as ei
from llmx.projections.exec.stream import ExecStream
from llmx.projections.shell_escape import join_command

JsonEvent = dict[str, Any]


def encode_event(event: JsonEvent) -> str:
    """One JSONL line (with its newline), byte-compatible with serde_json's compact form."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"


def _mcp_result(result: Any) -> Any:
    """MCP's ``CallToolResult`` (camelCase on the wire) as exec prints it."""
    if not isinstance(result, dict):
        return None
    out: dict[str, Any] = {"content": result.get("content", [])}
    meta = result.get("_meta")
    if meta is not None:
        out["_meta"] = meta
    structured = result.get("structuredContent", result.get("structured_content"))
    out["structured_content"] = structured
    return out


class JsonRenderer:
    """Exec notifications to ``--json`` events."""

    def __init__(self) -> None:
        self._next_id = 0
        self._ids: dict[str, str] = {}
        self._usage: ei.UsageUpdated | None = None
        self._last_error: str | None = None
        self._todo_id: str | None = None
        self._todo_items: list[dict[str, Any]] = []

    def _new_id(self) -> str:
        item_id = f"item_{self._next_id}"
        self._next_id += 1
        return item_id

    def _started_id(self, raw: str) -> str:
        if raw not in self._ids:
            self._ids[raw] = self._new_id()
        return self._ids[raw]

    def _completed_id(self, raw: str) -> str:
        return self._ids.pop(raw, None) or self._new_id()

    def feed(self, notification: ei.ExecNotification) -> list[JsonEvent]:
        n = notification
        if isinstance(n, ei.ExecTurnStarted):
            self._next_id, self._ids, self._last_error = 0, {}, None
            self._todo_id, self._todo_items = None, []
            return [{"type": "thread.started", "thread_id": n.thread_id}, {"type": "turn.started"}]
        if isinstance(n, ei.ExecItemStarted):
            if isinstance(n.item, ei.ExecAgentMessageItem | ei.ExecReasoningItem):
                return []
            body = _item_body(n.item)
            if body is None:
                return []
            return [{"type": "item.started", "item": {"id": self._started_id(n.item.id), **body}}]
        if isinstance(n, ei.ExecItemCompleted):
            return self._completed(n.item)
        if isinstance(n, ei.UsageUpdated):
            self._usage = n
            return []
        if isinstance(n, ei.PlanUpdated):
            return self._plan(n)
        if isinstance(n, ei.Notice):
            return self._notice(n)
        if isinstance(n, ei.TurnEnded):
            return self._turn_ended(n)
        return []

    def _completed(self, item: ei.ExecItem) -> list[JsonEvent]:
        if isinstance(item, ei.ExecReasoningItem) and not "\n".join(item.summary).strip():
            return []
        body = _item_body(item)
        if body is None:
            return []
        if isinstance(item, ei.ExecAgentMessageItem | ei.ExecReasoningItem):
            item_id = self._new_id()
        else:
            item_id = self._completed_id(item.id)
        return [{"type": "item.completed", "item": {"id": item_id, **body}}]

    def _plan(self, n: ei.PlanUpdated) -> list[JsonEvent]:
        self._todo_items = [
            {"text": s.step, "completed": s.status is ei.PlanStepStatus.COMPLETED} for s in n.steps
        ]
        kind = "item.updated"
        if self._todo_id is None:
            self._todo_id, kind = self._new_id(), "item.started"
        item = {"id": self._todo_id, "type": "todo_list", "items": self._todo_items}
        return [{"type": kind, "item": item}]

    def _notice(self, n: ei.Notice) -> list[JsonEvent]:
        if n.kind is ei.NoticeKind.ERROR or n.kind is ei.NoticeKind.STREAM_ERROR:
            self._last_error = n.message
            return [{"type": "error", "message": n.message}]
        if n.kind is ei.NoticeKind.BACKGROUND:
            return []
        message = f"{n.message} ({n.details})" if n.details else n.message
        item = {"id": self._new_id(), "type": "error", "message": message}
        return [{"type": "item.completed", "item": item}]

    def _turn_ended(self, n: ei.TurnEnded) -> list[JsonEvent]:
        events: list[JsonEvent] = []
        if self._todo_id is not None:
            item = {"id": self._todo_id, "type": "todo_list", "items": self._todo_items}
            events.append({"type": "item.completed", "item": item})
            self._todo_id = None
        if n.status is ei.ExecTurnStatus.COMPLETED:
            events.append({"type": "turn.completed", "usage": self._usage_json()})
        elif n.status is ei.ExecTurnStatus.FAILED:
            message = n.error or self._last_error or "turn failed"
            events.append({"type": "turn.failed", "error": {"message": message}})
        return events

    def _usage_json(self) -> dict[str, int]:
        u = self._usage or ei.UsageUpdated(0, 0, 0, 0, 0)
        return {
            "input_tokens": u.input_tokens,
            "cached_input_tokens": u.cached_input_tokens,
            "cache_write_input_tokens": u.cache_write_input_tokens,
            "output_tokens": u.output_tokens,
            "reasoning_output_tokens": u.reasoning_output_tokens,
        }


def _item_body(item: ei.ExecItem) -> dict[str, Any] | None:
    """The item's fields after ``id``, in Codex's order; None for kinds exec never shows."""
    if isinstance(item, ei.ExecAgentMessageItem):
        return {"type": "agent_message", "text": item.text}
    if isinstance(item, ei.ExecReasoningItem):
        return {"type": "reasoning", "text": "\n".join(item.summary)}
    if isinstance(item, ei.CommandItem):
        return {
            "type": "command_execution",
            "command": join_command(item.command),
            "aggregated_output": item.aggregated_output or "",
            "exit_code": item.exit_code,
            "status": item.status.value,
        }
    if isinstance(item, ei.ExecFileChangeItem):
        status = ei.ItemStatus.FAILED if item.status is ei.ItemStatus.DECLINED else item.status
        changes = [{"path": c.path, "kind": c.kind} for c in item.changes]
        return {"type": "file_change", "changes": changes, "status": status.value}
    if isinstance(item, ei.ExecMcpToolCallItem):
        error = {"message": item.error} if item.error is not None else None
        return {
            "type": "mcp_tool_call",
            "server": item.server,
            "tool": item.tool,
            "arguments": item.arguments,
            "result": _mcp_result(item.result),
            "error": error,
            "status": item.status.value,
        }
    if isinstance(item, ei.ExecWebSearchItem):
        return {"type": "web_search", "query": item.query, "action": item.action}
    return None


class JsonExecProjection:
    """Rollout lines to ``--json`` events: :class:`ExecStream` then :class:`JsonRenderer`."""

    def __init__(self) -> None:
        self.stream = ExecStream()
        self.renderer = JsonRenderer()

    def feed_line(self, line: RolloutLine) -> list[JsonEvent]:
        """What one :class:`~llmx.events.lines.RolloutLine` (live or from a file) shows."""
        return self._render(self.stream.feed_line(line))

    def finish(self) -> list[JsonEvent]:
        return self._render(self.stream.finish())

    def _render(self, notifications: list[ei.ExecNotification]) -> list[JsonEvent]:
        events: list[JsonEvent] = []
        for notification in notifications:
            events.extend(self.renderer.feed(notification))
        return events
