"""Responses-style context items and tools, translated for the Chat Completions API.

The turn loop keeps one history shape (Codex's ``ResponseItem``s); a provider with
``wire_api = "chat"`` gets the same conversation as chat messages:

- ``message`` -> ``{"role", "content"}`` (``developer`` becomes ``system``: most
  OpenAI-compatible servers do not know the ``developer`` role);
- ``function_call`` / ``custom_tool_call`` -> ``tool_calls`` on an assistant message
  (consecutive calls share one message, joined to the assistant text just before them);
- ``function_call_output`` / ``custom_tool_call_output`` -> ``{"role": "tool"}``;
- ``reasoning`` and other items the chat API has no place for are left out.

A freeform (``custom``) tool such as ``apply_patch`` becomes a function taking one string
argument ``input``; the client turns such calls back into ``custom_tool_call`` items.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

# The argument under which a freeform tool's text travels as a function argument.
CUSTOM_TOOL_INPUT_ARG = "input"


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = [
        part.get("text", "")
        for part in content
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    ]
    return "".join(parts)


def _user_content(content: object) -> str | list[dict[str, Any]]:
    """Plain text unless the message carries images, which need the parts form."""
    if not isinstance(content, list) or not any(
        isinstance(p, dict) and p.get("type") == "input_image" for p in content
    ):
        return _text_of(content)
    parts: list[dict[str, Any]] = []
    for part in content:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "input_image":
            parts.append({"type": "image_url", "image_url": {"url": part.get("image_url", "")}})
        elif isinstance(part.get("text"), str):
            parts.append({"type": "text", "text": part["text"]})
    return parts


def _output_text(output: object) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, dict):
        # Older rollouts: ``{"content": "...", "success": true}``.
        return _output_text(output.get("content", ""))
    return _text_of(output)


def chat_messages(
    items: Iterable[dict[str, Any]], instructions: str | None
) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    for item in items:
        kind = item.get("type")
        if kind == "message":
            role = item.get("role", "user")
            if role == "assistant":
                messages.append({"role": "assistant", "content": _text_of(item.get("content"))})
            else:
                messages.append(
                    {
                        "role": "system" if role in ("developer", "system") else "user",
                        "content": _user_content(item.get("content")),
                    }
                )
        elif kind in ("function_call", "custom_tool_call"):
            if kind == "function_call":
                arguments = str(item.get("arguments", ""))
            else:
                arguments = json.dumps({CUSTOM_TOOL_INPUT_ARG: item.get("input", "")})
            call = {
                "id": str(item.get("call_id", "")),
                "type": "function",
                "function": {"name": str(item.get("name", "")), "arguments": arguments},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind in ("function_call_output", "custom_tool_call_output"):
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": str(item.get("call_id", "")),
                    "content": _output_text(item.get("output")),
                }
            )
    return messages


def chat_tools(tools: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], frozenset[str]]:
    """Chat ``tools`` plus the names of the freeform tools (their calls map back)."""
    converted: list[dict[str, Any]] = []
    custom: set[str] = set()
    for tool in tools:
        kind = tool.get("type")
        name = tool.get("name")
        if not isinstance(name, str):
            continue
        if kind == "function":
            function: dict[str, Any] = {
                "name": name,
                "description": tool.get("description", ""),
                "parameters": tool.get("parameters", {"type": "object", "properties": {}}),
            }
            if tool.get("strict"):
                function["strict"] = True
            converted.append({"type": "function", "function": function})
        elif kind == "custom":
            custom.add(name)
            converted.append(
                {
                    "type": "function",
                    "function": {
                        "name": name,
                        "description": tool.get("description", ""),
                        "parameters": {
                            "type": "object",
                            "properties": {CUSTOM_TOOL_INPUT_ARG: {"type": "string"}},
                            "required": [CUSTOM_TOOL_INPUT_ARG],
                            "additionalProperties": False,
                        },
                    },
                }
            )
        # Hosted tools (web_search, tool_search) and namespaces have no chat equivalent.
    return converted, frozenset(custom)
