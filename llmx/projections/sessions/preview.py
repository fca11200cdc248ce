"""The last messages of a recorded session, for the resume picker's preview.

Only the file's tail is read (``TAIL_BYTES``): a preview must not cost the whole of a
large rollout. Messages are the user's prompts and the model's answers as the transcript
records them: llmx's and Codex's ``item_completed`` of a ``UserMessage`` or
``AgentMessage``, and the ``user_message`` / ``agent_message`` events older Codex files
carry instead. A message recorded both ways is taken once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal, NamedTuple

TAIL_BYTES = 256 * 1024

Speaker = Literal["user", "assistant"]


class PreviewLine(NamedTuple):
    speaker: Speaker
    text: str


def _item_text(item: dict[str, Any]) -> str:
    parts = item.get("content")
    if isinstance(parts, list):
        return " ".join(str(part.get("text", "")) for part in parts
                        if isinstance(part, dict) and part.get("text"))
    text = item.get("text")
    return text if isinstance(text, str) else ""


def _message(line: dict[str, Any]) -> PreviewLine | None:
    if line.get("type") != "event_msg":
        return None
    payload = line.get("payload")
    if not isinstance(payload, dict):
        return None
    kind = payload.get("type")
    if kind == "item_completed":
        item = payload.get("item")
        if not isinstance(item, dict):
            return None
        speaker: Speaker | None = {"UserMessage": "user", "AgentMessage": "assistant"}.get(
            str(item.get("type")))  # type: ignore[assignment]
        return PreviewLine(speaker, _item_text(item)) if speaker else None
    if kind in ("user_message", "agent_message"):
        message = payload.get("message")
        if isinstance(message, str):
            return PreviewLine("user" if kind == "user_message" else "assistant", message)
    return None


def last_messages(path: Path, count: int = 6) -> list[PreviewLine]:
    """The last ``count`` non-empty message lines of the session at ``path``, oldest first
    (a message of several lines gives one entry per line). An unreadable file gives none."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            start = max(0, size - TAIL_BYTES)
            handle.seek(start)
            data = handle.read()
    except OSError:
        return []
    chunks = data.split(b"\n")
    if start > 0:
        chunks = chunks[1:]  # the first is a line cut in two
    found: list[PreviewLine] = []
    for chunk in chunks:
        if b'"event_msg"' not in chunk:
            continue
        try:
            line = json.loads(chunk)
        except ValueError:
            continue
        message = _message(line) if isinstance(line, dict) else None
        if message is None or not message.text.strip():
            continue
        if found and found[-1] == message:
            continue  # the same message as an item and as an event
        found.append(message)
    lines = [PreviewLine(m.speaker, text.strip()) for m in found
             for text in m.text.splitlines() if text.strip()]
    return lines[-count:]
