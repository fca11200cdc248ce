"""Rollout lines with their byte positions, read backwards (newest first) or forwards.

Resuming reads a rollout from its end: the newest compaction or turn context is near the
end of a long session, so reading backwards touches only what is restored. Forks bound a
parent file at a byte offset, so both directions take an ``end``. Lines come as
:class:`RawLine` (undecoded bytes and the range they occupy); :class:`ReverseRolloutReader`
adds what :class:`~llmx.events.reader.RolloutReader` reports going forwards: the torn
final line, and lines that do not decode, by number.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import msgspec

from llmx.events.lines import LineError, RolloutLine, decode_line
from llmx.events.reader import MAX_LINE_BYTES, LineProblem, TornTail, open_for_reading

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
) -> Iterator[RawLine]:
    """Yield the lines between byte ``start`` (a line start) and ``end``, oldest first."""
    with open(path, "rb") as handle:
        limit = file_size(path) if end is None else end
        handle.seek(start)
        offset = start
        line_start = start
        parts: list[bytes] = []  # the current line's bytes when it spans blocks
        while offset < limit:
            chunk = handle.read(min(block_size, limit - offset))
            if not chunk:
                break
            low = 0
            while True:
                newline = chunk.find(b"\n", low)
                if newline < 0:
                    break
                data = chunk[low:newline]
                if parts:
                    parts.append(data)
                    data = b"".join(parts)
                    parts.clear()
                yield RawLine(line_start, offset + newline + 1, data, True)
                line_start = offset + newline + 1
                low = newline + 1
            if low < len(chunk):
                parts.append(chunk[low:])
            offset += len(chunk)
        if parts:
            yield RawLine(line_start, offset, b"".join(parts), False)


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


def count_lines_before(path: Path | str, offsets: list[int]) -> list[int]:
    """For each byte offset (ascending), the 1-based number of the line starting there."""
    numbers: list[int] = []
    fd = open_for_reading(Path(path))
    try:
        position = 0
        newlines = 0
        for offset in offsets:
            while position < offset:
                block = os.read(fd, min(DEFAULT_BLOCK_SIZE, offset - position))
                if not block:
                    break
                newlines += block.count(b"\n")
                position += len(block)
            numbers.append(newlines + 1)
    finally:
        os.close(fd)
    return numbers


class ReverseRolloutReader:
    """The decodable lines of one rollout, newest first, each with its :class:`RawLine`.

    Reports like :class:`~llmx.events.reader.RolloutReader`: ``torn_tail`` (a last line
    without its newline, never yielded) and ``problems`` (lines that do not decode, or
    are longer than ``max_line_bytes``). Line numbers are counted from the start of the
    file only when a problem is asked for, so a clean backward read stays at the end.
    ``lines_read`` counts every line visited, blank ones included.

    :meth:`raw_lines` yields the complete lines undecoded, for callers that filter on the
    bytes first; :meth:`decode` then decodes one and records it if it is bad. Iterating
    the reader itself does both. Both draw on one underlying pass, so a caller may stop,
    and later continue where it stopped.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        end_offset: int | None = None,
        block_size: int = DEFAULT_BLOCK_SIZE,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self.path = Path(path)
        self.end_offset = end_offset
        self.block_size = block_size
        self.max_line_bytes = max_line_bytes
        self.lines_read = 0
        self._torn: RawLine | None = None
        self._bad: list[tuple[int, str]] = []
        self._numbered: tuple[TornTail | None, list[LineProblem]] | None = None
        self._raw = self._complete_lines()

    def _complete_lines(self) -> Iterator[RawLine]:
        # Opened first so a missing file or a folder fails with the reader's one-line reason.
        fd = open_for_reading(self.path)
        try:
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        end = size if self.end_offset is None else min(self.end_offset, size)
        first = True
        for line in read_lines_backward(self.path, end=end, block_size=self.block_size):
            self.lines_read += 1
            if first:
                first = False
                if not line.terminated and not line.is_blank:
                    self._torn = line
                    self._numbered = None
                    continue
            if line.is_blank:
                continue
            if len(line.data) > self.max_line_bytes:
                self._report(
                    line.start,
                    f"line of {len(line.data)} bytes is longer than the "
                    f"{self.max_line_bytes}-byte limit",
                )
                continue
            yield line

    def raw_lines(self) -> Iterator[RawLine]:
        """The complete, non-blank lines not yet read, newest first."""
        return self._raw

    def decode(self, raw: RawLine) -> RolloutLine | None:
        """``raw`` decoded; None (and a problem recorded) when it is not a JSON object."""
        try:
            return decode_line(raw.data)
        except LineError as exc:
            self._report(raw.start, str(exc))
            return None

    def __iter__(self) -> Iterator[tuple[RawLine, RolloutLine]]:
        for raw in self._raw:
            line = self.decode(raw)
            if line is not None:
                yield raw, line

    def reject(self, raw: RawLine, reason: str) -> None:
        """Record ``raw`` as a bad line the caller refused (it will not decode it)."""
        self._report(raw.start, reason)

    def _report(self, offset: int, reason: str) -> None:
        self._bad.append((offset, reason))
        self._numbered = None

    @property
    def torn_tail(self) -> TornTail | None:
        return self._numbers()[0]

    @property
    def problems(self) -> list[LineProblem]:
        """Lines skipped so far, oldest first."""
        return self._numbers()[1]

    def _numbers(self) -> tuple[TornTail | None, list[LineProblem]]:
        if self._numbered is None:
            bad = sorted(self._bad)
            offsets = [offset for offset, _reason in bad]
            if self._torn is not None:
                offsets.append(self._torn.start)
            numbers = count_lines_before(self.path, offsets) if offsets else []
            problems = [
                LineProblem(number, offset, reason)
                for number, (offset, reason) in zip(numbers, bad, strict=False)
            ]
            torn = None
            if self._torn is not None:
                torn = TornTail(numbers[-1], self._torn.start, len(self._torn.data))
            self._numbered = (torn, problems)
        return self._numbered
