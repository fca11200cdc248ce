"""The session's log until ``llmx.events`` offers its writer: one file, one order, subscribers.

This is the write-ahead path the session relies on: a line is handed to the sink
(written and flushed) before any subscriber sees it, so a frontend never shows what the
file does not hold. Only persisted lines are published, which is what makes ``exec``'s
live output equal to a replay of its rollout. The file is created lazily, with
``session_meta`` first, when the first turn starts (as Codex does); an ephemeral log
goes through the same steps with a sink that writes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from llmx.events.home import FILE_MODE, ensure_private_dir, rollout_path_for
from llmx.events.ids import format_timestamp

# Events shown to nobody later: streaming deltas and live-only notifications.
_TRANSIENT_EVENTS = frozenset(
    {
        "agent_message_delta",
        "agent_message_content_delta",
        "agent_reasoning_delta",
        "reasoning_content_delta",
        "exec_command_output_delta",
        "item_started",
        "shutdown_complete",
    }
)

Subscriber = Callable[[str, dict[str, Any]], None]
_encoder = msgspec.json.Encoder()


def is_persisted(line_type: str, payload: dict[str, Any]) -> bool:
    if line_type != "event_msg":
        return True
    return payload.get("type") not in _TRANSIENT_EVENTS


class FileSessionLog:
    """Appends rollout lines to one file (or nowhere, when ``path`` is None)."""

    def __init__(
        self,
        path: Path | None,
        *,
        resume: bool = False,
        next_ordinal: int = 0,
    ) -> None:
        self.path = path
        self._file: int | None = None
        self._resume = resume
        self._ordinal = next_ordinal
        self._pending_meta: dict[str, Any] | None = None
        self._buffer: list[bytes] = []
        self._subscribers: list[Subscriber] = []
        self._materialized = False

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    async def emit(self, line_type: str, payload: dict[str, Any]) -> None:
        if not is_persisted(line_type, payload):
            return
        line = self._encode(line_type, payload)
        if line_type == "session_meta":
            self._buffer.insert(0, line)
        else:
            self._buffer.append(line)
        if line_type == "turn_context" or self._materialized:
            self._write_buffer()
        for subscriber in self._subscribers:
            subscriber(line_type, payload)

    async def sync(self) -> None:
        self._write_buffer()
        if self._file is not None:
            os.fsync(self._file)

    async def close(self) -> None:
        if self._materialized:
            await self.sync()
        if self._file is not None:
            os.close(self._file)
            self._file = None

    def _encode(self, line_type: str, payload: dict[str, Any]) -> bytes:
        line = {
            "timestamp": format_timestamp(),
            "ordinal": self._ordinal,
            "type": line_type,
            "payload": payload,
        }
        self._ordinal += 1
        return _encoder.encode(line) + b"\n"

    def _write_buffer(self) -> None:
        self._materialized = True
        if self.path is None:
            self._buffer.clear()
            return
        if self._file is None:
            ensure_private_dir(self.path.parent)
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
            self._file = os.open(self.path, flags, FILE_MODE)
        if self._buffer:
            # One write per batch: a crash can tear at most the last line.
            os.write(self._file, b"".join(self._buffer))
            self._buffer.clear()


def new_rollout_path(home: Path, thread_id: str) -> Path:
    return rollout_path_for(home, thread_id, datetime.now())
