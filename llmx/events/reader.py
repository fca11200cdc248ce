"""Streaming rollout reader: constant memory, bad lines reported by number, torn tails found.

A rollout is appended to line by line, so a crash can leave a final line without its
``\\n``. Such a torn tail is reported and not yielded; :func:`cut_torn_tail` removes it
before anyone appends again. Any other bad line is skipped and reported with its number
and the reason; it never stops the read, and the file is never modified by reading.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import msgspec

from llmx.events.lines import LineError, RolloutLine, decode_line
from llmx.events.nesting import nesting_problem, nests_too_deeply
from llmx.events.raw_lines import newline_counts, read_lines_forward

CHUNK_BYTES = 1 << 20
# Lines beyond this are reported, not decoded, so a runaway line cannot exhaust memory.
MAX_LINE_BYTES = 32 << 20


class RolloutFileError(Exception):
    """The file cannot be read at all (missing, a directory, no permission)."""


class LineProblem(msgspec.Struct, frozen=True):
    """A line that could not be decoded: 1-based ``number``, its byte ``offset``, why."""

    number: int
    offset: int
    reason: str

    def describe(self, path: Path | str) -> str:
        return f"{path}:{self.number}: {self.reason}; the line is skipped"


class TornTail(msgspec.Struct, frozen=True):
    """A final line without its newline: a write cut short by a crash."""

    number: int
    offset: int
    length: int

    def describe(self, path: Path | str) -> str:
        return (
            f"{path}:{self.number}: torn final line ({self.length} bytes without a newline); "
            "ignored on read, cut before appending (`llmx rollout check --repair`)"
        )


def _directory_error(path: Path) -> RolloutFileError:
    return RolloutFileError(f"{path}: is a directory, not a rollout file — pass a .jsonl file")


def open_for_reading(path: Path) -> int:
    """An fd for ``path``, or :class:`RolloutFileError` with a one-line reason."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise RolloutFileError(f"{path}: no such file — check the path") from None
    except PermissionError:
        raise RolloutFileError(
            f"{path}: permission denied — check the owner and mode of the file"
        ) from None
    except IsADirectoryError:
        raise _directory_error(path) from None
    except OSError as exc:
        raise RolloutFileError(f"{path}: cannot open ({exc.strerror}) — check the path") from None
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        raise _directory_error(path)
    return fd


class RolloutReader:
    """Iterate the decoded lines of one rollout file.

    After (or during) iteration: ``problems`` lists skipped lines, ``torn_tail`` the torn
    final line if any, ``line_count`` the number of lines seen (blank ones excluded), and
    ``position`` the byte offset just past the last complete line read. Pass
    ``start_offset`` (a previous ``position``) to catch up on what was appended since.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        start_offset: int = 0,
        first_line_number: int = 1,
        max_line_bytes: int = MAX_LINE_BYTES,
        max_nesting: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.start_offset = start_offset
        self.first_line_number = first_line_number
        self.max_line_bytes = max_line_bytes
        # Refuse lines nested deeper than this before decoding them (``rollout check``
        # passes serde_json's limit; readers otherwise refuse what does not decode).
        self.max_nesting = max_nesting
        self.problems: list[LineProblem] = []
        self.torn_tail: TornTail | None = None
        self.line_count = 0
        self.position = start_offset

    def __iter__(self) -> Iterator[RolloutLine]:
        # Opened first so that a missing file or a folder fails with its one-line reason.
        os.close(open_for_reading(self.path))
        number = self.first_line_number - 1
        lines = read_lines_forward(self.path, start=self.start_offset, block_size=CHUNK_BYTES,
                                   max_line_bytes=self.max_line_bytes)
        while True:
            try:
                raw = next(lines, None)
            except OSError as exc:
                raise RolloutFileError(
                    f"{self.path}: read failed ({exc.strerror}) — check the disk and retry"
                ) from None
            if raw is None:
                return
            if not raw.terminated:
                self.torn_tail = TornTail(number + 1, raw.start, raw.end - raw.start)
                return
            number += 1
            self.position = raw.end
            if raw.skipped:
                self._oversized(number, raw.start, raw.end - raw.start - 1)
                continue
            if raw.is_blank:
                continue
            self.line_count += 1
            try:
                if self.max_nesting is not None and nests_too_deeply(raw.data, self.max_nesting):
                    raise LineError(nesting_problem(self.max_nesting))
                line = decode_line(raw.data)
            except LineError as exc:
                self.problems.append(LineProblem(number, raw.start, str(exc)))
                continue
            yield line

    def _oversized(self, number: int, offset: int, length: int) -> None:
        self.line_count += 1
        self.problems.append(
            LineProblem(
                number,
                offset,
                f"line of {length} bytes is longer than the {self.max_line_bytes}-byte limit",
            )
        )



def not_json_lines(path: Path | str) -> int:
    """How many complete lines ``path`` holds when not one of them is JSON (no rollout
    at all: a README passed by mistake), else 0. Past a first line that decodes, nothing
    more is read; only a file whose first line is not JSON is read on."""
    count = 0
    for raw in read_lines_forward(path, max_line_bytes=MAX_LINE_BYTES):
        if raw.is_blank or not raw.terminated:
            continue
        try:
            decode_line(raw.data)
        except LineError:
            count += 1
            continue
        return 0
    return count


def read_rollout(path: Path | str) -> list[RolloutLine]:
    """Every decodable line of a file (for small files and tests; prefer the reader)."""
    return list(RolloutReader(path))


def find_torn_tail(path: Path | str) -> TornTail | None:
    """The final line of ``path`` when it lacks its newline, looking only at its end.

    Reading cannot tell a torn line from a line still being written: only the file's
    writer can (:mod:`llmx.events.writer_lock`).
    """
    fd = open_for_reading(Path(path))
    try:
        return torn_tail_in(fd)
    finally:
        os.close(fd)


def torn_tail_in(fd: int) -> TornTail | None:
    """:func:`find_torn_tail` of the file open at ``fd`` (positioned reads only)."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return None
    end = size
    cut = 0
    while end > 0:
        begin = max(0, end - CHUNK_BYTES)
        found = os.pread(fd, end - begin, begin).rfind(b"\n")
        if found >= 0:
            cut = begin + found + 1
            break
        end = begin
    [before] = newline_counts(fd, [cut], CHUNK_BYTES)
    return TornTail(before + 1, cut, size - cut)
