"""Reverting a thread to the start of one of its turns, as Codex 0.169 records it.

The thread keeps its id; its history from then on is a new *segment*, a file
``rollout-<now>-<thread>_<segment>.jsonl`` whose ``session_meta`` (the thread's own,
restamped) carries a ``history_base`` that ends where the turn began: the parent lines
below it are the kept history, nothing is copied, and the old file (with the dropped
turns) stays as it was. Readers take the newest segment of a thread as where it
continues; files on disk are not touched (a revert changes the conversation, not the
workspace).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import msgspec

from llmx.events.ids import format_timestamp
from llmx.events.lines import LineError, decode_line
from llmx.events.raw_lines import first_line
from llmx.events.records import HistoryBase, SessionMeta
from llmx.projections.fork_point import ForkPoint, ForkPointError, fork_point, list_turns
from llmx.projections.lineage import LineageError, RolloutSpan, resolve_lineage
from llmx.runtime.threads.errors import ThreadError


def lineage_of(path: Path) -> list[RolloutSpan]:
    """The files holding the history of the thread whose newest file is ``path``."""
    try:
        return resolve_lineage(path)
    except (LineageError, OSError) as exc:
        raise ThreadError(str(exc), "restore the rollout it continues") from None


def check_turn(spans: Sequence[RolloutSpan], before_turn_id: str) -> None:
    """Refuse a turn the history does not hold, before anything is stopped."""
    try:
        known = {turn.turn_id for turn in list_turns(spans)}
    except OSError as exc:
        raise ThreadError.from_os(exc, spans[-1].path, doing="cannot read") from None
    if before_turn_id not in known:
        raise ThreadError(f"turn not found: {before_turn_id}")


def revert_point(spans: Sequence[RolloutSpan], before_turn_id: str) -> ForkPoint:
    """Where the kept history ends: the end of the line that closed the turn before."""
    try:
        return fork_point(spans, before_turn_id=before_turn_id)
    except ForkPointError as exc:
        raise ThreadError(str(exc)) from None
    except OSError as exc:
        raise ThreadError.from_os(exc, spans[-1].path, doing="cannot read") from None


def segment_meta(path: Path, point: ForkPoint) -> SessionMeta:
    """The new segment's ``session_meta``: the thread's own (from its newest file),
    stamped now, its ``history_base`` at ``point``. A fork keeps naming its parent
    (``forked_from_id``); where it forked from is the older segment's to say."""
    try:
        first = first_line(path)
        line = None if first is None else decode_line(first.data)
    except OSError as exc:
        raise ThreadError.from_os(exc, path, doing="cannot read") from None
    except LineError:
        line = None
    meta = line.item() if line is not None and line.type == "session_meta" else None
    if not isinstance(meta, SessionMeta):
        raise ThreadError(f"{path} does not begin with a session_meta line",
                          "check it with 'llmx rollout check'")
    return msgspec.structs.replace(
        meta, timestamp=format_timestamp(),
        history_base=HistoryBase(point.thread_id, point.end_ordinal, point.end_byte),
        forked_from_ordinal_exclusive=msgspec.UNSET,
    )
