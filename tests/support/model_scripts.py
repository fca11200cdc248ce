"""Scripts for the loopback test model server, in the format the Codex peer runs used.

A script is ``{"turns": [TURN, ...], "fallback": TURN}``. Each model request consumes the
first unused TURN whose ``match`` (if any) is a substring of the request's last user text;
when none is left the ``fallback`` answers (every time). A TURN is a list of items or
``{"items", "match", "status", "error", "code", "retry_after", "delay", "chunk_delay",
"stall", "pause_after", "pause", "truncate", "usage", "inject"}``:

- ``status`` (default 200) and ``error``: a non-2xx answer with body
  ``{"error": {"message": error, "type": "server_error"[, "code": code]}}``;
  ``retry_after`` adds a ``Retry-After`` header.
- ``delay``: seconds before the answer starts; ``chunk_delay``: seconds between events;
  ``stall``: seconds of silence right after the stream opened (an idle stream);
  ``pause``: seconds of silence after the first event whose data holds the text
  ``pause_after`` (a model that stops for a while in the middle of an answer);
  ``truncate``: end the stream before its terminal event.
- ``usage``: fields that replace the default usage (100 in, 10 out).
- ``inject``: ``data:`` texts sent as they are, each as an event of its own, right after
  the stream's first event (a misbehaving server: bad JSON, JSON nested too deeply).

Items: ``{"type": "message", "text"}``, ``{"type": "reasoning", "summary"}``,
``{"type": "function_call", "name", "arguments", "namespace"?}``,
``{"type": "custom_tool_call", "name", "input"}``, and ``{"type": "shell", "command", ...}``
which becomes a call of whichever shell tool the request offers (``exec_command`` ->
``{"cmd"}``, ``shell_command`` -> ``{"command": str}``, ``shell`` -> ``{"command": argv}``);
other keys of a shell item (``sandbox_permissions``, ``justification``...) become arguments.
The string ``$SESSION_ID`` in arguments is replaced by the last ``session ID N`` that a
tool output of the request mentioned.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_USAGE: dict[str, Any] = {
    "input_tokens": 100,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 10,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 110,
}
_SHELL_EXTRA_SKIP = frozenset({"type", "command"})
_SESSION_ID = re.compile(r"session ID (\d+)")


@dataclass(frozen=True)
class Turn:
    items: list[dict[str, Any]]
    match: str | None = None
    status: int = 200
    error: str | None = None
    code: str | None = None
    retry_after: str | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    stall: float = 0.0
    pause_after: str | None = None
    pause: float = 0.0
    truncate: bool = False
    usage: dict[str, Any] = field(default_factory=dict)
    inject: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, raw: Any) -> Turn:
        if isinstance(raw, list):
            return cls(items=list(raw))
        if not isinstance(raw, dict):
            raise ValueError(f"a script turn must be a list of items or an object, got {raw!r}")
        retry_after = raw.get("retry_after")
        return cls(
            items=list(raw.get("items", [])),
            match=raw.get("match"),
            status=int(raw.get("status", 200)),
            error=raw.get("error"),
            code=raw.get("code"),
            retry_after=None if retry_after is None else str(retry_after),
            delay=float(raw.get("delay", 0.0)),
            chunk_delay=float(raw.get("chunk_delay", 0.0)),
            stall=float(raw.get("stall", 0.0)),
            pause_after=raw.get("pause_after"),
            pause=float(raw.get("pause", 0.0)),
            truncate=bool(raw.get("truncate", False)),
            usage=dict(raw.get("usage", {})),
            inject=[str(text) for text in raw.get("inject", [])],
        )

    def error_body(self) -> bytes:
        error: dict[str, Any] = {"message": self.error or "mock error", "type": "server_error"}
        if self.code is not None:
            error["code"] = self.code
        return json.dumps({"error": error}).encode()

    def responses_usage(self) -> dict[str, Any]:
        usage = json.loads(json.dumps(DEFAULT_USAGE))
        usage.update(self.usage)
        return usage


class Script:
    """The turns of one script; thread-safe, since the server answers requests in threads."""

    def __init__(self, turns: list[Turn], fallback: Turn | None) -> None:
        self._turns = turns
        self._used = [False] * len(turns)
        self._fallback = fallback
        self._lock = threading.Lock()

    @classmethod
    def from_json(cls, data: Any) -> Script:
        if isinstance(data, list):
            data = {"turns": data}
        turns = [Turn.parse(t) for t in data.get("turns", [])]
        fallback = data.get("fallback")
        return cls(turns, Turn.parse(fallback) if fallback is not None else None)

    @classmethod
    def load(cls, path: Path) -> Script:
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))

    def next_turn(self, last_user_text: str) -> Turn:
        with self._lock:
            for index, turn in enumerate(self._turns):
                if self._used[index]:
                    continue
                if turn.match is None or turn.match in last_user_text:
                    self._used[index] = True
                    return turn
        if self._fallback is not None:
            return self._fallback
        return Turn(items=[{"type": "message", "text": "(the script has no turn left)"}])


# -- reading the request ----------------------------------------------------------------------


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the last user message (Responses ``input`` or Chat ``messages``)."""
    entries = body.get("input") or body.get("messages") or []
    if isinstance(entries, str):
        return entries
    for entry in reversed(entries):
        if isinstance(entry, dict) and entry.get("role") == "user":
            return _text_of(entry.get("content"))
    return ""


def offered_tool_names(body: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for tool in body.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        function = tool.get("function") if isinstance(tool.get("function"), dict) else tool
        if isinstance(function.get("name"), str):
            names.append(function["name"])
        elif tool.get("type") == "local_shell":
            names.append("local_shell")
    return names


def last_session_id(body: dict[str, Any]) -> int | None:
    found: int | None = None
    for entry in body.get("input") or body.get("messages") or []:
        if not isinstance(entry, dict):
            continue
        if entry.get("type") in ("function_call_output", "custom_tool_call_output"):
            text = _text_of(entry.get("output"))
        elif entry.get("role") == "tool":
            text = _text_of(entry.get("content"))
        else:
            continue
        for match in _SESSION_ID.finditer(text):
            found = int(match.group(1))
    return found


# -- turning script items into output items -------------------------------------------------


def _hex(n: int) -> str:
    return uuid.uuid4().hex[:n]


def _substitute(value: Any, session_id: int | None) -> Any:
    if value == "$SESSION_ID" and session_id is not None:
        return session_id
    if isinstance(value, dict):
        return {k: _substitute(v, session_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, session_id) for v in value]
    return value


def _shell_call(item: dict[str, Any], tools: list[str]) -> tuple[str, dict[str, Any]]:
    command = str(item.get("command", ""))
    extra = {k: v for k, v in item.items() if k not in _SHELL_EXTRA_SKIP}
    if "exec_command" in tools or not any(t in tools for t in ("shell_command", "shell")):
        return "exec_command", {"cmd": command, **extra}
    if "shell_command" in tools:
        return "shell_command", {"command": command, **extra}
    return "shell", {"command": ["bash", "-lc", command], **extra}


def output_items(turn: Turn, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Responses-shaped output items for the script items of ``turn``."""
    tools = offered_tool_names(body)
    session_id = last_session_id(body)
    for item in turn.items:
        kind = item.get("type")
        if kind == "message":
            yield {
                "type": "message",
                "id": f"msg_{_hex(24)}",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": str(item.get("text", "")),
                             "annotations": []}],
            }
        elif kind == "reasoning":
            summary = item.get("summary", "")
            parts = summary if isinstance(summary, list) else [summary]
            yield {
                "type": "reasoning",
                "id": f"rs_{_hex(24)}",
                "summary": [{"type": "summary_text", "text": str(p)} for p in parts],
            }
        elif kind in ("function_call", "shell"):
            if kind == "shell":
                name, arguments = _shell_call(item, tools)
            else:
                name, arguments = str(item.get("name", "")), item.get("arguments", {})
            arguments = _substitute(arguments, session_id)
            call: dict[str, Any] = {
                "type": "function_call",
                "id": f"fc_{_hex(24)}",
                "status": "completed",
                "name": name,
                "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
                "call_id": f"call_{_hex(20)}",
            }
            if item.get("namespace") is not None:
                call["namespace"] = item["namespace"]
            yield call
        elif kind == "custom_tool_call":
            yield {
                "type": "custom_tool_call",
                "id": f"ctc_{_hex(24)}",
                "status": "completed",
                "call_id": f"call_{_hex(20)}",
                "name": str(item.get("name", "")),
                "input": str(item.get("input", "")),
            }
        else:
            raise ValueError(f"unknown script item type {kind!r}")
