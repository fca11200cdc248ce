"""Which bytes of a rollout the session index reads, so one question never reads a whole
large file.

A listing summary needs a file's head (``session_meta``, the first user message) and its
tail (the newest ``turn_context`` and token count), never the middle:

- A range of at most ``FORWARD_FOLD_BYTES`` (a small file, or what was appended since the
  last look) is folded line by line, oldest first, and its user messages go straight to
  the full-text table.
- A larger range is read from both ends. At first sight the head is read forwards until
  the meta and a preview are found (Codex's rule, at most ``HEAD_LINE_LIMIT`` lines and
  ``HEAD_BYTE_LIMIT`` bytes); then the tail backwards until the newest ``turn_context``
  and token count are found (the token count is looked for at most
  ``TOKEN_SEARCH_BYTES`` beyond the turn context: it only feeds a displayed total).
- The full-text part of the middle is left behind (``fts_to`` < ``built_to``) until a
  search or a reindex asks for it: :func:`complete_messages` reads it then, decoding only
  the lines that can be user messages.
"""

from __future__ import annotations

import os
from pathlib import Path

from llmx.events.raw_lines import read_lines_backward, read_lines_forward
from llmx.projections.sessions.summary import (
    USER_MESSAGE_TAGS,
    FileSummary,
    TailFold,
    fold_line,
    user_message_in,
)

FORWARD_FOLD_BYTES = 1 << 20
HEAD_LINE_LIMIT = 210  # Codex: 10 records + USER_EVENT_SCAN_LIMIT (200)
HEAD_BYTE_LIMIT = 4 << 20
TOKEN_SEARCH_BYTES = 4 << 20
# Small blocks at the ends: a head is a few lines, a tail usually one turn.
_HEAD_BLOCK = 64 << 10
_TAIL_BLOCK = 256 << 10
_MESSAGES_BLOCK = 1 << 20


def continues(summary: FileSummary, stat: os.stat_result) -> bool:
    """Whether the file behind ``stat`` is the one ``summary`` was built from, possibly
    grown: same inode, no shorter than what was folded, still a line boundary there."""
    if stat.st_ino != summary.inode or stat.st_size < summary.built_to:
        return False
    if summary.built_to == 0:
        return True
    try:
        fd = os.open(summary.path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        return os.pread(fd, 1, summary.built_to - 1) == b"\n"
    finally:
        os.close(fd)


def summarise(summary: FileSummary, path: Path) -> FileSummary:
    """Bring ``summary`` up to the last complete line of ``path`` (see the module doc).

    Raises ``FileNotFoundError`` when the file is gone.
    """
    summary.new_user_messages = []
    # Stat before reading: if the file grows meanwhile, the recorded size is smaller than
    # what was folded and the next look catches up instead of missing lines.
    stat = os.stat(path)
    end = stat.st_size
    if end - summary.built_to <= FORWARD_FOLD_BYTES:
        _fold_forward(summary, path, end, stop_at_preview=False)
    else:
        if summary.built_to == 0:
            _fold_forward(summary, path, end, stop_at_preview=True)
        _fold_tail(summary, path, end)
    summary.size = stat.st_size
    summary.mtime_ns = stat.st_mtime_ns
    summary.inode = stat.st_ino
    return summary


def _fold_forward(summary: FileSummary, path: Path, end: int, *, stop_at_preview: bool) -> None:
    start = summary.built_to
    # User messages go to the full-text table only while it has every earlier one.
    to_text_index = summary.fts_to == start
    lines = 0
    block = _HEAD_BLOCK if stop_at_preview else _MESSAGES_BLOCK
    for line in read_lines_forward(path, start=start, end=end, block_size=block):
        if not line.terminated:
            break  # a last line still being written: folded next time
        if not line.is_blank:
            fold_line(summary, line.data, first=line.start == 0)
            lines += 1
        summary.built_to = line.end
        if stop_at_preview and (
            (summary.has_meta and summary.first_user_message)
            or lines >= HEAD_LINE_LIMIT
            or line.end - start >= HEAD_BYTE_LIMIT
        ):
            break
    if to_text_index:
        summary.fts_to = summary.built_to
    else:
        summary.new_user_messages = []


def _fold_tail(summary: FileSummary, path: Path, end: int) -> None:
    low = summary.built_to
    tail = TailFold(summary)
    new_end: int | None = None
    context_at: int | None = None
    for line in read_lines_backward(path, end=end, block_size=_TAIL_BLOCK):
        if line.start < low:
            break
        if new_end is None:
            new_end = line.end if line.terminated else line.start
            if not line.terminated:
                continue
        if line.is_blank:
            continue
        tail.apply(line.data)
        if tail.has_context and context_at is None:
            context_at = line.start
        if tail.has_context and tail.has_tokens:
            break
        if context_at is not None and context_at - line.start > TOKEN_SEARCH_BYTES:
            break
    tail.finish()
    summary.built_to = max(low, new_end or low)


def complete_messages(summary: FileSummary, path: Path) -> FileSummary:
    """Read the user messages of ``[fts_to, built_to)`` into ``new_user_messages`` and
    move ``fts_to`` to ``built_to`` (what a search needs of the middle of a file)."""
    summary.new_user_messages = []
    if summary.fts_to >= summary.built_to:
        return summary
    found: list[str] = []
    for line in read_lines_forward(
        path, start=summary.fts_to, end=summary.built_to, block_size=_MESSAGES_BLOCK
    ):
        data = line.data
        if any(tag in data for tag in USER_MESSAGE_TAGS):
            text = user_message_in(data)
            if text is not None:
                found.append(text)
    summary.new_user_messages = found
    summary.fts_to = summary.built_to
    return summary
