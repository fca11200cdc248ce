"""Capping large command output: a bounded inline copy, the full bytes stored once.

Codex rollouts grow to gigabytes from repeated command output. llmx keeps at most
``limit`` bytes of an output inline (the head and the tail, with a marker in between
saying how much was left out and where the rest is) and stores the full text once,
content-addressed by its sha256, in ``<rollout file without .jsonl>.blobs/<sha256>``
next to the rollout. An ``output_ref`` line right after the capped line names the call,
the field, the digest and the sizes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from llmx.events.event_msgs import ExecCommandEnd, ItemCompleted, ItemStarted
from llmx.events.limits import DEFAULT_INLINE_OUTPUT_BYTES
from llmx.events.records import OutputRef
from llmx.events.response_items import CustomToolCallOutput, FunctionCallOutput
from llmx.events.turn_items import CommandExecutionItem

_COMMAND_FIELDS = ("aggregated_output", "stdout", "stderr", "formatted_output")


def blob_dir(rollout_path: Path) -> Path:
    """Where a rollout's full outputs live: beside it, named after it."""
    return rollout_path.with_name(rollout_path.name.removesuffix(".jsonl") + ".blobs")


def blob_path(rollout_path: Path, sha256: str) -> Path:
    return blob_dir(rollout_path) / sha256


# A blob is written under this suffix, then renamed into place: one left over is a blob a
# writer was still writing when it was killed.
PARTIAL_SUFFIX = ".partial"


def partial_blobs(rollout_path: Path) -> list[Path]:
    """The partial blobs beside ``rollout_path`` (in progress if a writer holds it)."""
    try:
        with os.scandir(blob_dir(rollout_path)) as entries:
            return sorted(Path(e.path) for e in entries if e.name.endswith(PARTIAL_SUFFIX))
    except OSError:
        return []


def remove_partial_blobs(rollout_path: Path) -> int:
    """Remove the partial blobs a killed writer left; how many went. Only for the holder
    of the writer lock: no live writer is writing any of them then."""
    removed = 0
    for partial in partial_blobs(rollout_path):
        with contextlib.suppress(OSError):
            partial.unlink()
            removed += 1
    return removed


def truncation_marker(omitted: int, total: int, sha256: str) -> str:
    return (
        f"\n[... {omitted} of {total} bytes omitted; full output stored as sha256:{sha256} "
        "(see the output_ref line) ...]\n"
    )


class StoredOutput(msgspec.Struct, frozen=True):
    """A full output to store, and the line that refers to it."""

    ref: OutputRef
    data: bytes


def cap_text(text: str, limit: int) -> tuple[str, bytes | None, str]:
    """``(inline, full_bytes_or_None, sha256)``: the head and tail of ``text`` if too long."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text, None, ""
    digest = hashlib.sha256(data).hexdigest()
    half = max(limit // 2, 1)
    head = data[:half].decode("utf-8", "ignore")
    tail = data[len(data) - half :].decode("utf-8", "ignore")
    omitted = len(data) - len(head.encode("utf-8", "surrogatepass")) - len(
        tail.encode("utf-8", "surrogatepass")
    )
    return head + truncation_marker(omitted, len(data), digest) + tail, data, digest


class OutputCapper:
    """Rewrites payloads whose outputs exceed ``limit`` bytes (``None``: never)."""

    def __init__(
        self,
        limit: int | None = DEFAULT_INLINE_OUTPUT_BYTES,
        *,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        self.limit = limit
        # Applied to an output that will be stored, so the blob and its digest hold no secret.
        self._redact = redact

    def apply(self, payload: Any) -> tuple[Any, list[StoredOutput]]:
        if self.limit is None:
            return payload, []
        if isinstance(payload, ItemCompleted | ItemStarted) and isinstance(
            payload.item, CommandExecutionItem
        ):
            item, stored = self._fields(payload.item, payload.item.id, _COMMAND_FIELDS)
            if stored:
                return msgspec.structs.replace(payload, item=item), stored
            return payload, []
        if isinstance(payload, ExecCommandEnd):
            return self._fields(payload, payload.call_id, _COMMAND_FIELDS)
        if isinstance(payload, FunctionCallOutput | CustomToolCallOutput) and isinstance(
            payload.output, str
        ):
            return self._fields(payload, payload.call_id, ("output",))
        return payload, []

    def _fields(
        self, value: Any, call_id: str, names: tuple[str, ...]
    ) -> tuple[Any, list[StoredOutput]]:
        limit = self.limit if self.limit is not None else 0
        changes: dict[str, str] = {}
        stored: list[StoredOutput] = []
        for name in names:
            text = getattr(value, name, None)
            if not isinstance(text, str) or len(text) <= limit // 4:
                continue  # short enough whatever its encoding (at most 4 bytes a character)
            if self._redact is not None:
                text = self._redact(text)
            inline, full, digest = cap_text(text, limit)
            if full is None:
                continue
            changes[name] = inline
            ref = OutputRef(
                call_id=call_id,
                sha256=digest,
                size=len(full),
                inline_size=len(inline.encode("utf-8", "surrogatepass")),
                field=name,
            )
            stored.append(StoredOutput(ref, full))
        if not changes:
            return value, []
        return msgspec.structs.replace(value, **changes), stored
