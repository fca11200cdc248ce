"""The lines of a JSONL file with their byte positions, undecoded, in either direction.

Resuming reads a rollout from its end: the newest compaction or turn context is near the
end of a long session, so reading backwards touches only what is restored. Forks bound a
parent file at a byte offset, so both directions take an ``end``. Lines come as
:class:`RawLine` (undecoded bytes and the range they occupy). The readers that decode
build on these: :class:`~llmx.events.reverse_reader.ReverseRolloutReader` backwards, and
the folds that filter on a line's bytes before decoding it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import msgspec

# Large enough that a typical rollout line fits in one block, small enough that reading
# a late compaction touches only a few blocks.
DEFAULT_BLOCK_SIZE = 1 << 20


class RawLine(msgspec.Struct, frozen=True):
    """One line of a JSONL file, without its newline."""

    start: int
    """Byte offset of the line's first byte."""
    end: int
    """Byte offset just past the line, its ``\\n`` included when it has one."""
    data: bytes
    terminated: bool
    """False only for a last line without ``\\n``: a torn write, or a file still being written."""
    skipped: bool = False
    """True for a line longer than the reader's ``max_line_bytes``: its bytes were not kept
    (``data`` is empty), ``start`` and ``end`` still say where it is."""

    @property
    def is_blank(self) -> bool:
        # ``isspace`` stops at the first other byte; ``strip`` would copy a long line.
        return not self.data or self.data.isspace()


def file_size(path: Path | str) -> int:
    return os.stat(path).st_size


def read_lines_backward(
    path: Path | str, *, end: int | None = None, block_size: int = DEFAULT_BLOCK_SIZE
) -> Iterator[RawLine]:
    """Yield the lines of ``path`` before byte ``end`` (default: all of it), newest first."""
    with open(path, "rb") as handle:
        yield from _backward(handle, file_size(path) if end is None else end, block_size)


def _backward(handle: BinaryIO, end: int, block_size: int) -> Iterator[RawLine]:
    if end <= 0:
        return
    handle.seek(end - 1)
    last_terminated = handle.read(1) == b"\n"
    # Inside [0, content_end) every newline separates two lines.
    content_end = end - 1 if last_terminated else end
    piece_end = content_end
    piece_terminated = last_terminated
    pending: list[bytes] = []  # the current line's bytes, newest chunk first
    position = content_end
    while position > 0:
        start = max(0, position - block_size)
        handle.seek(start)
        chunk = handle.read(position - start)
        high = len(chunk)
        while True:
            newline = chunk.rfind(b"\n", 0, high)
            if newline < 0:
                pending.append(chunk[:high])
                break
            data = chunk[newline + 1 : high]
            if pending:
                data += b"".join(reversed(pending))
                pending.clear()
            line_start = start + newline + 1
            yield RawLine(line_start, piece_end + piece_terminated, data, piece_terminated)
            piece_end = start + newline
            piece_terminated = True
            high = newline
        position = start
    yield RawLine(0, piece_end + piece_terminated, b"".join(reversed(pending)), piece_terminated)


def read_lines_forward(
    path: Path | str,
    *,
    start: int = 0,
    end: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
    max_line_bytes: int | None = None,
) -> Iterator[RawLine]:
    """Yield the lines between byte ``start`` (a line start) and ``end`` (the file's size
    when it is opened, by default), oldest first. A line longer than ``max_line_bytes`` is
    yielded ``skipped``, without its bytes: memory stays bounded by the block and the limit,
    however long a line runs."""
    with open(path, "rb") as handle:
        limit = file_size(path) if end is None else end
        handle.seek(start)
        offset = start
        line_start = start
        parts: list[bytes] = []  # the current line's bytes when it spans blocks
        kept = 0  # their length
        skipping = False  # the current line is over the limit: its bytes are dropped
        while offset < limit:
            chunk = handle.read(min(block_size, limit - offset))
            if not chunk:
                break
            low = 0
            while True:
                newline = chunk.find(b"\n", low)
                if newline < 0:
                    break
                line_end = offset + newline + 1
                if skipping:
                    skipping = False
                    yield RawLine(line_start, line_end, b"", True, skipped=True)
                else:
                    data = chunk[low:newline]
                    if parts:
                        parts.append(data)
                        data = b"".join(parts)
                        parts.clear()
                        kept = 0
                    if max_line_bytes is not None and len(data) > max_line_bytes:
                        yield RawLine(line_start, line_end, b"", True, skipped=True)
                    else:
                        yield RawLine(line_start, line_end, data, True)
                line_start = line_end
                low = newline + 1
            if low < len(chunk) and not skipping:
                rest = chunk[low:]
                if max_line_bytes is not None and kept + len(rest) > max_line_bytes:
                    parts.clear()
                    kept = 0
                    skipping = True
                else:
                    parts.append(rest)
                    kept += len(rest)
            offset += len(chunk)
        if skipping:
            yield RawLine(line_start, offset, b"", False, skipped=True)
        elif parts:
            yield RawLine(line_start, offset, b"".join(parts), False)


def first_line(path: Path | str, *, block_size: int = 1 << 16) -> RawLine | None:
    """The first line of ``path`` when it is complete (ends with ``\n``), else None: the
    file is empty, or its first line is still being written. A rollout's first line is
    its ``session_meta``."""
    for line in read_lines_forward(path, block_size=block_size):
        return line if line.terminated else None
    return None


def line_ending_at(path: Path | str, offset: int) -> RawLine | None:
    """The whole line that ends exactly at ``offset`` (just past its ``\\n``), else None.

    Used to check that a recorded byte offset still lands on a line boundary.
    """
    if offset <= 0:
        return None
    try:
        size = file_size(path)
    except OSError:
        return None
    if offset > size:
        return None
    for line in read_lines_backward(path, end=offset):
        return line if line.terminated else None
    return None


def newline_counts(fd: int, offsets: list[int], block_size: int = DEFAULT_BLOCK_SIZE) -> list[int]:
    """For each byte offset (ascending), how many newlines the file open at ``fd`` holds
    before it (positioned reads only): the 1-based number of a line starting there, less one.
    """
    counts: list[int] = []
    position = 0
    newlines = 0
    for offset in offsets:
        while position < offset:
            block = os.pread(fd, min(block_size, offset - position), position)
            if not block:
                break
            newlines += block.count(b"\n")
            position += len(block)
        counts.append(newlines)
    return counts
