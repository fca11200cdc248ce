"""Where a fork from a given turn cuts its parent's history.

A fork through turn N (or through or before a turn id) keeps the parent's lines up to
the end of that turn: the line that closed it (``task_complete`` or ``turn_aborted``).
What follows (the next turn's submission, its ``writer`` line, its ``task_started``) is
not inherited. As Codex 0.169 writes it, the cut is a ``history_base`` into the file the
turn was recorded in: a turn a parent itself inherited is cut in the grandparent's file.

Turns are numbered as ``llmx inspect`` numbers them: every ``task_started`` of the
history, inherited turns first, from 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import msgspec

from llmx.events.event_msgs import decode_event_head
from llmx.events.lines import LineError, decode_line
from llmx.events.raw_lines import read_lines_forward
from llmx.projections.lineage import RolloutSpan, read_history_base

_STARTS = frozenset({"task_started", "turn_started"})
_ENDS = frozenset({"task_complete", "turn_complete", "turn_aborted"})
# Cheap filters before a line is decoded: only turn boundaries matter here.
_MARKS = (b'"task_started"', b'"turn_started"', b'"task_complete"', b'"turn_complete"',
          b'"turn_aborted"')


class ForkPointError(Exception):
    """The turn asked for does not exist, or has not ended."""


class ForkPoint(msgspec.Struct, frozen=True):
    """The end of the kept history: the file, its thread and the bounds of its lines."""

    thread_id: str
    path: Path
    end_byte: int
    end_ordinal: int
    # The turns the fork keeps.
    turns: int
    # The spans of the kept history, the cut one last (bounded at ``end_byte``).
    spans: tuple[RolloutSpan, ...]


class _Turn(msgspec.Struct):
    turn_id: str | None
    span_index: int
    # Where the kept history ends if the fork keeps this turn: (byte, next ordinal).
    end: tuple[int, int] | None = None


def list_turns(spans: Sequence[RolloutSpan]) -> list[_Turn]:
    """The turns of the history, in order, with where each ends."""
    turns: list[_Turn] = []
    for index, span in enumerate(spans):
        # The ordinal of the line read last: from the line when it has one (Codex 0.169
        # and llmx write them), counted from the previous one otherwise.
        ordinal = -1
        known = False
        for raw in read_lines_forward(span.path, end=span.end, block_size=1 << 16):
            if raw.is_blank or not raw.terminated:
                continue
            ordinal += 1
            if known and not any(mark in raw.data for mark in _MARKS):
                continue
            try:
                line = decode_line(raw.data)
            except LineError:
                continue
            if line.ordinal is not None:
                ordinal, known = line.ordinal, True
            if line.type != "event_msg" or line.payload_type is None:
                continue
            head = decode_event_head(line.payload_raw)
            turn_id = head.turn_id if head is not None and isinstance(head.turn_id, str) \
                else None
            if line.payload_type in _STARTS:
                turns.append(_Turn(turn_id, index))
            elif line.payload_type in _ENDS and turns and turns[-1].end is None:
                turns[-1].end = (raw.end, ordinal + 1)
    return turns


def fork_point(
    spans: Sequence[RolloutSpan],
    *,
    turn: int | None = None,
    through_turn_id: str | None = None,
    before_turn_id: str | None = None,
) -> ForkPoint:
    """The cut for a fork through turn number ``turn`` (from 1), through the turn with id
    ``through_turn_id``, or before the turn with id ``before_turn_id``."""
    turns = list_turns(spans)
    if turn is not None:
        if not 1 <= turn <= len(turns):
            raise ForkPointError(f"there is no turn {turn}: the thread has {len(turns)}")
        kept, chosen = turn, turns[turn - 1]
    else:
        wanted = through_turn_id if through_turn_id is not None else before_turn_id
        found = [number for number, item in enumerate(turns, 1) if item.turn_id == wanted]
        if not found:
            raise ForkPointError(f"turn not found: {wanted}")
        kept, chosen = found[-1], turns[found[-1] - 1]
    if before_turn_id is not None:
        kept -= 1
        if kept:
            chosen = turns[kept - 1]
        else:
            # Nothing of the first turn is kept, not even the lines that opened it (its
            # submission, its writer line): the history is the first file's session_meta.
            return _point(spans, 0, _meta_end(spans[0]), 0)
    if chosen.end is None:
        raise ForkPointError(f"turn {kept} has not ended: a fork keeps only ended turns")
    return _point(spans, chosen.span_index, chosen.end, kept)


def _meta_end(span: RolloutSpan) -> tuple[int, int]:
    """(byte, next ordinal) at the end of the first line of ``span`` (its session_meta)."""
    for raw in read_lines_forward(span.path, end=span.end, block_size=1 << 16):
        if raw.is_blank or not raw.terminated:
            continue
        try:
            ordinal = decode_line(raw.data).ordinal
        except LineError:
            ordinal = None
        return raw.end, (0 if ordinal is None else ordinal) + 1
    raise ForkPointError(f"{span.path} has no session_meta line")


def _point(spans: Sequence[RolloutSpan], index: int, end: tuple[int, int],
           kept: int) -> ForkPoint:
    span = spans[index]
    thread_id, _base = read_history_base(span.path)
    if thread_id is None:
        raise ForkPointError(f"{span.path} has no session_meta line")
    cut = RolloutSpan(span.path, end[0], inherited=True)
    return ForkPoint(thread_id, span.path, end[0], end[1], kept,
                     (*spans[:index], cut))
