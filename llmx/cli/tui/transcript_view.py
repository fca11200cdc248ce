"""The transcript widget: a virtual scroll over cells, each drawn only once it is seen.

The widget holds a sequence of cells (the earlier pages of the file, then the live fold's
cells) and draws through Textual's line API: :meth:`render_line` asks only for the rows on
screen. A cell is turned into strips the first time one of its rows is needed (and again
when it changes or the width does); rows of cells never drawn are estimated from their
text, so opening a long session draws one screen. Scrolling to the top asks the owner for
the page before (``on_reached_top``), which is folded then, not before.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

from rich.console import Console
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from llmx.cli.tui.cell_render import render_cell
from llmx.projections import transcript_cells as tc

# Blank rows between two cells.
CELL_GAP = 1
# Changes are laid out at most once per frame (60 a second): a model streaming hundreds
# of deltas a second changes its cell that often, and laying out and drawing each of
# them would leave no time for the keys typed meanwhile.
FRAME_S = 1 / 60


class _Drawn:
    """The strips of one cell at one width and revision."""

    __slots__ = ("revision", "strips", "width")

    def __init__(self, strips: list[Strip], width: int, revision: int) -> None:
        self.strips = strips
        self.width = width
        self.revision = revision


def estimate_rows(cell: tc.Cell, width: int) -> int:
    """Rows ``cell`` will take at ``width``, without drawing it (exact for plain lines that
    do not wrap; drawing corrects it)."""
    text = render_cell(cell)
    if text is None:
        return 0
    usable = max(width - 2, 1)
    return sum(max(1, -(-len(line) // usable)) for line in text.plain.split("\n"))


class TranscriptView(ScrollView, can_focus=True):
    """Cells, newest at the bottom; follows the end unless the reader scrolled away."""

    DEFAULT_CSS = """
    TranscriptView {
        height: 1fr;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, *, show_reasoning: bool = True, whole: bool = False,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.show_reasoning = show_reasoning
        self.whole = whole
        self._earlier: list[tc.Cell] = []
        self._live: Sequence[tc.Cell] = ()
        self._drawn: dict[int, _Drawn] = {}
        # Row at which each cell starts (cell i spans offsets[i]..offsets[i+1]).
        self._offsets: list[int] = [0]
        self._width = 0
        self._follow = True
        # The first live cell changed since the last layout, and the pending layout.
        self._changed_from: int | None = None
        self._layout_timer: Timer | None = None
        self.on_reached_top: Callable[[], list[tc.Cell]] | None = None
        self._cell_console = Console(width=80, color_system="truecolor", legacy_windows=False,
                                force_terminal=True)

    # -- content -----------------------------------------------------------------------

    @property
    def cells(self) -> list[tc.Cell]:
        return [*self._earlier, *self._live]

    def cell_count(self) -> int:
        return len(self._earlier) + len(self._live)

    def cell(self, index: int) -> tc.Cell:
        earlier = len(self._earlier)
        return self._earlier[index] if index < earlier else self._live[index - earlier]

    def show(self, live: Sequence[tc.Cell], earlier: list[tc.Cell] | None = None) -> None:
        """Show ``earlier`` (fixed) then ``live`` (a list the owner keeps changing)."""
        self._changed_from = None
        self._earlier = list(earlier or [])
        self._live = live
        self._drawn.clear()
        self._relayout(0)

    def prepend(self, cells: list[tc.Cell]) -> None:
        """Cells of an earlier page, above everything; the view keeps what it shows."""
        if not cells:
            self._relayout(0)
            return
        before = self._offsets[-1]
        self._earlier = cells + self._earlier
        self._drawn.clear()
        self._relayout(0)
        added = self._offsets[-1] - before
        self.scroll_to(y=self.scroll_offset.y + added, animate=False, immediate=True)

    def changed_from(self, live_index: int | None) -> None:
        """The owner's live cells changed from ``live_index`` on (None: nothing); laid
        out with the next frame."""
        if live_index is None:
            return
        if self._changed_from is None or live_index < self._changed_from:
            self._changed_from = live_index
        if self._layout_timer is None:
            self._layout_timer = self.set_timer(FRAME_S, self._lay_out_changes)

    def _lay_out_changes(self) -> None:
        self._layout_timer = None
        changed, self._changed_from = self._changed_from, None
        if changed is not None:
            self._relayout(len(self._earlier) + changed)

    def settle(self) -> None:
        """Lay out the changes not laid out yet now (before reading rows)."""
        if self._layout_timer is not None:
            self._layout_timer.stop()
        self._lay_out_changes()

    # -- layout ------------------------------------------------------------------------

    def _relayout(self, first: int) -> None:
        width = self._content_width()
        if width != self._width:
            self._width, first = width, 0
        count = self.cell_count()
        first = min(first, count)
        for index in [i for i in self._drawn if i >= first]:
            del self._drawn[index]
        del self._offsets[first + 1:]
        position = self._offsets[first]
        for index in range(first, count):
            position += self._rows_of(index)
            self._offsets.append(position)
        self.virtual_size = Size(width, position)
        if self._follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def _rows_of(self, index: int) -> int:
        cell = self.cell(index)
        if isinstance(cell, tc.ReasoningCell) and not self.show_reasoning:
            return 0
        drawn = self._drawn.get(index)
        rows = len(drawn.strips) if drawn else estimate_rows(cell, self._width)
        return rows + CELL_GAP if rows else 0

    def _content_width(self) -> int:
        return max(self.scrollable_content_region.width, 20)

    def _draw(self, index: int) -> _Drawn:
        cell = self.cell(index)
        drawn = self._drawn.get(index)
        if drawn is not None and drawn.revision == cell.revision and drawn.width == self._width:
            return drawn
        text = render_cell(cell, whole=self.whole, show_reasoning=self.show_reasoning)
        strips: list[Strip] = []
        if text is not None:
            options = self._cell_console.options.update_width(self._width)
            lines = self._cell_console.render_lines(text, options, pad=False)
            strips = [Strip(line) for line in lines]
        drawn = _Drawn(strips, self._width, cell.revision)
        self._drawn[index] = drawn
        old_rows = self._offsets[index + 1] - self._offsets[index]
        new_rows = (len(strips) + CELL_GAP) if strips else 0
        if new_rows != old_rows:
            # The estimate was off: shift everything below by the difference.
            delta = new_rows - old_rows
            for later in range(index + 1, len(self._offsets)):
                self._offsets[later] += delta
            self.virtual_size = Size(self._width, self._offsets[-1])
            if self._follow:
                self.scroll_end(animate=False, immediate=True, x_axis=False)
        return drawn

    # -- drawing -----------------------------------------------------------------------

    def on_resize(self) -> None:
        self._relayout(0)

    def render_line(self, y: int) -> Strip:
        if self._changed_from is not None:
            self.settle()
        if self._content_width() != self._width:
            # Cells shown before the widget had its size (a session opened while the
            # screen was still being laid out) are laid out again at the real width.
            self._relayout(0)
        row = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if row >= self._offsets[-1] or self.cell_count() == 0:
            return Strip.blank(width, self.rich_style)
        index = bisect.bisect_right(self._offsets, row) - 1
        drawn = self._draw(index)
        # Drawing may have moved the cell's rows (a corrected estimate): look again.
        index = min(bisect.bisect_right(self._offsets, row) - 1, self.cell_count() - 1)
        drawn = self._draw(index)
        inside = row - self._offsets[index]
        if inside >= len(drawn.strips):
            return Strip.blank(width, self.rich_style)
        return drawn.strips[inside].crop_extend(0, width, self.rich_style)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._follow = new >= self.max_scroll_y
        if new <= 0 and self.on_reached_top is not None:
            earlier = self.on_reached_top()
            if earlier:
                self.prepend(earlier)

    def follow_end(self) -> None:
        self._follow = True
        self.scroll_end(animate=False, immediate=True, x_axis=False)

    def plain_lines(self) -> list[str]:
        """Every row of the transcript as plain text (draws every cell; tests and dumps)."""
        self.settle()
        rows: list[str] = []
        for index in range(self.cell_count()):
            drawn = self._draw(index)
            rows.extend(strip.text.rstrip() for strip in drawn.strips)
            if drawn.strips:
                rows.extend([""] * CELL_GAP)
        return rows
