"""Following ``session_meta.history_base`` from a rollout to the files it continues.

Codex 0.169 writes a fork as a new file whose ``session_meta.history_base`` points into
its parent (``thread_id``, ``end_ordinal_exclusive``, ``end_byte_offset``) instead of
copying the parent's lines, and a revert as a new *segment* of the same thread
(``rollout-<ts>-<thread>_<segment>.jsonl``) whose base is an earlier file of that thread.
A fold over such a file is a fold over the parent's lines before the base, then the
file's own lines. This module finds those parents and bounds what is taken from each.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec

from llmx.events.lines import LineError, decode_line
from llmx.events.raw_lines import (
    RawLine,
    file_size,
    line_ending_at,
    read_lines_backward,
    read_lines_forward,
)
from llmx.events.records import HistoryBaseHead, LineType, decode_session_meta_head

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# ``rollout-<ts>-<thread>.jsonl``; a revert segment: ``rollout-<ts>-<thread>_<segment>.jsonl``.
_ROLLOUT_NAME = re.compile(rf"^rollout-.*?-(?P<thread>{_UUID})(?:_(?P<segment>{_UUID}))?\.jsonl$")


class LineageError(Exception):
    """A ``history_base`` that cannot be followed (parent missing or not matching)."""

    def __init__(self, child: Path, detail: str) -> None:
        super().__init__(f"{child}: {detail}")
        self.child = child
        self.detail = detail


class RolloutSpan(msgspec.Struct, frozen=True):
    """The part of one file that belongs to a thread's history: bytes ``[0, end)``."""

    path: Path
    end: int
    inherited: bool
    """True for a parent's span; False for the file that was asked for."""
    offset_verified: bool = True
    """False when ``end_byte_offset`` missed the expected line and ordinals were counted."""


class RolloutName(msgspec.Struct, frozen=True):
    thread_id: str
    segment_id: str | None


def parse_rollout_name(path: Path) -> RolloutName | None:
    match = _ROLLOUT_NAME.match(path.name)
    if match is None:
        return None
    return RolloutName(match["thread"].lower(), match["segment"])


def read_history_base(path: Path) -> tuple[str | None, HistoryBaseHead | None]:
    """The thread id and ``history_base`` of a rollout's first line (its ``session_meta``)."""
    for raw in read_lines_forward(path, block_size=1 << 16):
        if raw.is_blank:
            continue
        try:
            line = decode_line(raw.data)
        except LineError:
            return None, None
        if line.type != LineType.SESSION_META:
            return None, None
        head = decode_session_meta_head(line.payload_raw)
        if head is None:
            return None, None
        return head.id, head.history_base
    return None, None


def ordinal_of(line: RawLine) -> int | None:
    """The ``ordinal`` of a line, or None when it has none or does not decode."""
    try:
        return decode_line(line.data).ordinal
    except LineError:
        return None


def resolve_lineage(path: Path, search_roots: Sequence[Path] = ()) -> list[RolloutSpan]:
    """The spans whose lines make up ``path``'s history, oldest first, ``path`` last.

    Parents are looked for beside the file, under the sessions tree the file sits in, and
    under ``search_roots`` (sessions and archived-sessions folders).
    """
    spans = [RolloutSpan(path, file_size(path), inherited=False)]
    seen = {path.resolve()}
    current = path
    while True:
        _thread, base = read_history_base(current)
        if base is None:
            break
        span = _locate_parent(current, base, [*_implied_roots(path), *search_roots], seen)
        seen.add(span.path.resolve())
        spans.append(span)
        current = span.path
    spans.reverse()
    return spans


def _implied_roots(path: Path) -> list[Path]:
    roots = [path.parent]
    parents = path.resolve().parents
    home = None
    # ``<home>/sessions/YYYY/MM/DD/file`` or ``<home>/archived_sessions/file``: search the
    # whole sessions tree and the archive of that home.
    if len(parents) > 4 and parents[3].name == "sessions":
        home = parents[4]
    elif len(parents) > 1 and parents[0].name == "archived_sessions":
        home = parents[1]
    if home is not None:
        roots += [home / "sessions", home / "archived_sessions"]
    return roots


def _candidates(thread_id: str, roots: Sequence[Path], seen: set[Path]) -> list[Path]:
    found: dict[Path, Path] = {}
    for root in roots:
        if not root.is_dir():
            continue
        pattern = f"rollout-*{thread_id}*.jsonl"
        matches = root.glob(pattern) if root.name not in ("sessions",) else root.rglob(pattern)
        for candidate in matches:
            name = parse_rollout_name(candidate)
            resolved = candidate.resolve()
            if name is None or name.thread_id != thread_id.lower() or resolved in seen:
                continue
            found.setdefault(resolved, candidate)
    return list(found.values())


def _locate_parent(
    child: Path, base: HistoryBaseHead, roots: Sequence[Path], seen: set[Path]
) -> RolloutSpan:
    candidates = _candidates(base.thread_id, roots, seen)
    if not candidates:
        raise LineageError(
            child,
            f"its history continues thread {base.thread_id}, whose rollout file was not "
            "found beside it or under the sessions folders",
        )
    last_ordinal = None if base.end_ordinal_exclusive is None else base.end_ordinal_exclusive - 1
    if base.end_byte_offset is not None:
        for candidate in candidates:
            line = line_ending_at(candidate, base.end_byte_offset)
            if line is not None and (last_ordinal is None or ordinal_of(line) == last_ordinal):
                return RolloutSpan(candidate, base.end_byte_offset, inherited=True)
    if last_ordinal is None:
        raise LineageError(
            child,
            f"history_base of thread {base.thread_id} has neither a usable byte offset nor "
            "an ordinal; the parent cannot be bounded",
        )
    # The offset is stale (the parent was rewritten) or missing: count ordinals instead.
    # Newer segments of a thread supersede older ones, so the latest-starting file wins.
    matches: list[tuple[int, Path, int]] = []
    for candidate in candidates:
        end = _end_of_ordinal(candidate, last_ordinal)
        if end is not None:
            matches.append((_first_ordinal(candidate), candidate, end))
    if not matches:
        raise LineageError(
            child,
            f"no rollout of thread {base.thread_id} holds line ordinal {last_ordinal}; "
            "the parent history is incomplete",
        )
    _first, parent, end = max(matches, key=lambda match: match[0])
    return RolloutSpan(parent, end, inherited=True, offset_verified=False)


def _end_of_ordinal(path: Path, ordinal: int) -> int | None:
    for index, line in enumerate(read_lines_forward(path)):
        if not line.terminated:
            return None
        found = ordinal_of(line)
        # Lines without ordinals (older writers) are numbered by position.
        if (index if found is None else found) == ordinal:
            return line.end
    return None


def _first_ordinal(path: Path) -> int:
    for line in read_lines_forward(path, block_size=1 << 16):
        found = ordinal_of(line)
        return -1 if found is None else found
    return -1


def lines_backward(spans: Sequence[RolloutSpan]) -> Iterator[tuple[RolloutSpan, RawLine]]:
    """Every line of the spans, newest first (the last span's end first)."""
    for span in reversed(spans):
        for line in read_lines_backward(span.path, end=span.end):
            yield span, line


def lines_forward(spans: Sequence[RolloutSpan]) -> Iterator[tuple[RolloutSpan, int, RawLine]]:
    """Every line of the spans, oldest first, with its 1-based line number in its file."""
    for span in spans:
        for number, line in enumerate(read_lines_forward(span.path, end=span.end), start=1):
            yield span, number, line
