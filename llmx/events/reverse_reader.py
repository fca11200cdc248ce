"""Reading a rollout backwards (newest first), decoding and reporting as the forward reader.

:class:`ReverseRolloutReader` adds to the raw lines of :mod:`llmx.events.raw_lines` what
:class:`~llmx.events.reader.RolloutReader` reports going forwards: the torn final line,
and lines that do not decode, by number.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from llmx.events.lines import LineError, RolloutLine, decode_line
from llmx.events.raw_lines import DEFAULT_BLOCK_SIZE, RawLine, newline_counts, read_lines_backward
from llmx.events.reader import MAX_LINE_BYTES, LineProblem, TornTail, open_for_reading


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
            numbers = []
            if offsets:
                fd = open_for_reading(self.path)
                try:
                    numbers = [count + 1 for count in newline_counts(fd, offsets)]
                finally:
                    os.close(fd)
            problems = [
                LineProblem(number, offset, reason)
                for number, (offset, reason) in zip(numbers, bad, strict=False)
            ]
            torn = None
            if self._torn is not None:
                torn = TornTail(numbers[-1], self._torn.start, len(self._torn.data))
            self._numbered = (torn, problems)
        return self._numbered
