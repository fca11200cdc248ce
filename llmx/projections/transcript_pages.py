"""A rollout's transcript folded from its end, a page of turns at a time.

Opening a session of thousands of turns must not fold all of them: the screen shows the
last few. :class:`TranscriptPages` reads the file backwards (through the lineage of a
fork or revert segment too) to the start of the newest ``turns_per_page`` turns, folds
that page, and folds each earlier page only when asked (the reader scrolled up to it).

A page starts at a turn's ``task_started`` line, and the transcript fold keeps no state
across turns that shows on screen, with two exceptions that the join of two pages
settles: a tool item completed after its turn ended (the earlier page's cell takes the
completed state) and a rollback of more turns than the later page holds (the earlier
page loses its last turns). The pages joined equal one fold of the whole file (a test
holds them equal for every fixture session).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from llmx.events.lines import LineError, RolloutLine, decode_line
from llmx.events.raw_lines import RawLine, file_size
from llmx.projections import transcript_cells as tc
from llmx.projections.lineage import (
    LineageError,
    RolloutSpan,
    lines_backward,
    lines_forward,
    resolve_lineage,
)
from llmx.projections.transcript import TranscriptFold

DEFAULT_TURNS_PER_PAGE = 40
# A turn starts at the ``task_started`` event (``turn_started`` is its other spelling).
# Both writers put the payload's tag first, so the bytes of a line say it without decoding.
_TURN_MARKS = (b'"payload":{"type":"task_started"', b'"payload":{"type":"turn_started"')


def _starts_turn(raw: RawLine) -> bool:
    data = raw.data
    return any(mark in data for mark in _TURN_MARKS)


class TranscriptPages:
    """The transcript of ``path``: the newest page at once, earlier pages on demand."""

    def __init__(
        self,
        path: Path,
        *,
        turns_per_page: int = DEFAULT_TURNS_PER_PAGE,
        search_roots: tuple[Path, ...] = (),
    ) -> None:
        if turns_per_page < 1:
            raise ValueError("a page holds at least one turn")
        self.path = path
        self.turns_per_page = turns_per_page
        # Lines that did not decode, and a parent that could not be found, as one-line
        # reasons; what can be read is shown all the same.
        self.problems: list[str] = []
        self.spans = spans_of(path, search_roots, self.problems)
        self._backward: Iterator[tuple[RolloutSpan, RawLine]] = lines_backward(self.spans)
        self._exhausted = False
        # The state of the oldest page folded so far, for joining the next earlier one.
        self._head_rollback = 0
        self._head_continued: dict[str, int] = {}
        self._head: TranscriptFold | None = None

    @property
    def has_earlier(self) -> bool:
        return not self._exhausted

    def newest(self) -> TranscriptFold:
        """The fold of the newest page, not finished: live lines may continue it."""
        fold = TranscriptFold()
        fold.feed_lines(self._page_lines())
        self._remember_head(fold)
        return fold

    def earlier(self) -> list[tc.Cell]:
        """The cells of the page before the oldest one folded so far (empty at the start
        of the file), joined to it: the oldest page's cells may change (see the module
        docstring), so the caller shows ``earlier() + cells`` with the cells it holds."""
        if self._exhausted:
            return []
        fold = TranscriptFold()
        fold.feed_lines(self._page_lines())
        fold.finish()
        self._join(fold.cells)
        self._remember_head(fold)
        return fold.cells

    def _remember_head(self, fold: TranscriptFold) -> None:
        self._head_rollback += fold.rollback_before_start
        self._head = fold
        self._head_continued = {}
        for key in fold.continued_keys:
            index = _index_of_key(fold.cells, key)
            if index is not None:
                self._head_continued[key] = index

    def _join(self, cells: list[tc.Cell]) -> None:
        """Settle what the later page (the current head) says about this earlier one."""
        later = self._head
        if later is not None:
            moved: list[int] = []
            for key, later_index in self._head_continued.items():
                index = _index_of_key(cells, key)
                if index is not None:
                    cell = later.cells[later_index]
                    cell.revision = cells[index].revision + 1
                    cells[index] = cell
                    moved.append(later_index)
            for later_index in sorted(moved, reverse=True):
                later.remove_cell(later_index)
        rollback = self._head_rollback
        if rollback:
            starts = [i for i, cell in enumerate(cells) if isinstance(cell, tc.UserCell)]
            if rollback <= len(starts):
                del cells[starts[-rollback]:]
                self._head_rollback = 0
            else:
                del cells[:]
                self._head_rollback = rollback - len(starts)

    def _page_lines(self) -> list[RolloutLine]:
        """The lines of the next page back: up to and including its oldest turn's mark."""
        raws: list[RawLine] = []
        turns = 0
        for _span, raw in self._backward:
            if raw.is_blank or not raw.terminated:
                continue
            raws.append(raw)
            if _starts_turn(raw):
                turns += 1
                if turns == self.turns_per_page:
                    break
        else:
            self._exhausted = True
        lines: list[RolloutLine] = []
        for raw in reversed(raws):
            try:
                lines.append(decode_line(raw.data))
            except LineError as exc:
                self.problems.append(f"{self.path}: byte {raw.start}: skipped a line: {exc}")
        return lines


def _index_of_key(cells: list[tc.Cell], key: str) -> int | None:
    kind, _, call_id = key.partition(":")
    wanted: tuple[type, ...] = (
        (tc.CommandCell, tc.PatchCell, tc.ToolCell) if kind == "tool" else (tc.ApprovalCell,)
    )
    for index in range(len(cells) - 1, -1, -1):
        cell = cells[index]
        if isinstance(cell, wanted) and getattr(cell, "call_id", None) == call_id:
            return index
    return None


def spans_of(path: Path, search_roots: tuple[Path, ...], problems: list[str]) -> list[RolloutSpan]:
    """The spans of ``path``'s history; the file alone when a parent cannot be followed
    (the reason is added to ``problems``)."""
    try:
        return resolve_lineage(path, search_roots)
    except LineageError as exc:
        problems.append(f"{exc}; showing this file's own turns only")
        return [RolloutSpan(path, file_size(path), inherited=False)]


def fold_file(
    path: Path, *, search_roots: tuple[Path, ...] = (), problems: list[str] | None = None
) -> TranscriptFold:
    """The whole transcript of ``path`` (its parents' part first), in one fold."""
    fold = TranscriptFold()
    spans = spans_of(path, search_roots, [] if problems is None else problems)
    for _span, _number, raw in lines_forward(spans):
        if raw.is_blank or not raw.terminated:
            continue
        try:
            fold.feed_line(decode_line(raw.data))
        except LineError:
            continue
    fold.finish()
    return fold
