"""The last messages of a recorded session, for the resume picker's preview.

Only the file's tail is read (``TAIL_BYTES``): a preview must not cost the whole of a
large rollout. Messages are the user's prompts and the model's answers as the transcript
records them: llmx's and Codex's ``item_completed`` of a ``UserMessage`` or
``AgentMessage``, and the ``user_message`` / ``agent_message`` events older Codex files
carry instead. A message recorded both ways is taken once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, NamedTuple

from llmx.events.event_msgs import AgentMessage, ItemCompleted, UserMessage
from llmx.events.lines import LineError, RolloutLine, decode_line
from llmx.events.primitives import TextInput
from llmx.events.raw_lines import file_size, read_lines_backward
from llmx.events.turn_items import AgentMessageItem, UserMessageItem

TAIL_BYTES = 256 * 1024

Speaker = Literal["user", "assistant"]


class PreviewLine(NamedTuple):
    speaker: Speaker
    text: str


def _message(line: RolloutLine) -> PreviewLine | None:
    """The message an ``event_msg`` line records, read as the schema's type; None for
    any other line, and for a payload that does not fit its type."""
    if line.type != "event_msg":
        return None
    event = line.read_item()
    if isinstance(event, ItemCompleted):
        item = event.item
        if isinstance(item, UserMessageItem):
            return PreviewLine("user", " ".join(
                part.text for part in item.content if isinstance(part, TextInput) and part.text))
        if isinstance(item, AgentMessageItem):
            return PreviewLine("assistant", " ".join(
                part.text for part in item.content if part.text))
        return None
    if isinstance(event, UserMessage):
        return PreviewLine("user", event.message)
    if isinstance(event, AgentMessage):
        return PreviewLine("assistant", event.message)
    return None


def last_messages(path: Path, count: int = 6) -> list[PreviewLine]:
    """The last ``count`` non-empty message lines of the session at ``path``, oldest first
    (a message of several lines gives one entry per line). An unreadable file gives none."""
    found: list[PreviewLine] = []  # newest first
    try:
        size = file_size(path)
        limit = size - TAIL_BYTES
        # The same size bounds both ends, so a line appended meanwhile is not read.
        for raw in read_lines_backward(path, end=size):
            if raw.start < limit:
                break  # past the tail (a line cut by the tail's start is left out too)
            if b'"event_msg"' not in raw.data:
                continue
            try:
                line = decode_line(raw.data)
            except LineError:
                continue
            message = _message(line)
            if message is None or not message.text.strip():
                continue
            if found and found[-1] == message:
                continue  # the same message as an item and as an event
            found.append(message)
    except OSError:
        return []
    found.reverse()
    lines = [PreviewLine(m.speaker, text.strip()) for m in found
             for text in m.text.splitlines() if text.strip()]
    return lines[-count:]
