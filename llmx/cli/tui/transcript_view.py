"""The transcript widget: a virtual scroll over cells, each drawn only once it is seen.

The widget holds a sequence of cells (the earlier pages of the file, then the live fold's
cells) and draws through Textual's line API: :meth:`render_line` asks only for the rows on
screen. A cell is turned into strips the first time one of its rows is needed (and again
when it changes or the width does); rows of cells never drawn are estimated from their
text, so opening a long session draws one screen. Scrolling to the top asks the owner for
the page before (``on_reached_top``), which is folded then, not before.

While the model streams, a frame costs what changed, not what is shown: an answer or a
reasoning summary is drawn a line at a time (its completed lines once, only its last
line again at each change); when no row moved, the rows of the changed cells are the only
ones redrawn, and of a streamed cell only those after its completed lines (one row as a
line grows); the growing height does not lay the whole screen out again.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

from llmx.cli.tui.cell_render import Streamed, render_cell, render_lines_of, streamed
from llmx.projections import transcript_cells as tc

# Blank rows between two cells.
CELL_GAP = 1
# Changes are laid out at most once per frame (60 a second): a model streaming hundreds
# of deltas a second changes its cell that often, and laying out and drawing each of
# them would leave no time for the keys typed meanwhile.
FRAME_S = 1 / 60


class _Drawn:
    """The strips of one cell at one width and revision, each as wide as the view.

    For a streamed cell (:func:`streamed`), the first ``done_rows`` strips are the lines of
    ``done_text`` (complete lines of its text), kept while the text grows after them.
    """

    __slots__ = ("cell", "done_rows", "done_text", "revision", "strips", "style", "width")

    def __init__(self, cell: tc.Cell, strips: list[Strip], width: int, style: Style, *,
                 done_rows: int = 0, done_text: str = "") -> None:
        self.cell = cell
        self.strips = strips
        self.width = width
        self.style = style
        self.revision = cell.revision
        self.done_rows = done_rows
        self.done_text = done_text

    def current(self, cell: tc.Cell, width: int, style: Style) -> bool:
        return (self.cell is cell and self.revision == cell.revision
                and self.width == width and self.style == style)


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
        # The style rows are padded with, read once per batch of rows drawn.
        self._line_style = Style()

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
            # Everything again at the new width: cells seen so far are estimated until
            # they are seen again.
            self._width, first = width, 0
            self._drawn.clear()
        count = self.cell_count()
        first = min(first, count)
        old_total = self._offsets[-1]
        before = self._drawn.get(first)
        del self._offsets[first + 1:]
        position = self._offsets[first]
        for index in range(first, count):
            position += self._rows_of(index)
            self._offsets.append(position)
        scrolled = self.scroll_offset.y
        self._set_virtual_height(position)
        if self._follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        if position == old_total and self.scroll_offset.y == scrolled:
            # The same rows in the same place: only those of the changed cells change,
            # and of a streamed cell only the rows after its completed lines kept.
            start = self._offsets[first] + self._kept_rows(first, before)
            self.refresh_lines(start, position - start)
        else:
            self.refresh()

    def _kept_rows(self, index: int, before: _Drawn | None) -> int:
        """Leading rows of cell ``index`` that are the same strips as in ``before`` (its
        drawing before this layout): the completed lines a streamed cell kept."""
        after = self._drawn.get(index)
        if before is None or after is None or after is before:
            return 0
        kept = before.done_rows
        if kept == 0 or len(after.strips) < kept:
            return 0
        return kept if after.strips[kept - 1] is before.strips[kept - 1] else 0

    def _set_virtual_height(self, height: int) -> None:
        size = Size(self._width, height)
        if size == self.virtual_size:
            return
        height_rule = self.styles.height
        if height_rule is not None and height_rule.is_auto:
            # As tall as its rows (inline): the screen's layout depends on them.
            self.virtual_size = size
            return
        # Not through the reactive, which lays the whole screen out again (about once a
        # frame while an answer grows): the screen's layout does not depend on it (the
        # view has its share of the screen), only the scrollbar does, updated here.
        self.set_reactive(Widget.virtual_size, size)
        self._scroll_update(size)

    def _rows_of(self, index: int) -> int:
        cell = self.cell(index)
        if isinstance(cell, tc.ReasoningCell) and not self.show_reasoning:
            return 0
        drawn = self._drawn.get(index)
        if drawn is not None and drawn.cell is cell:
            # Drawn before (seen, or streaming): drawn again, which costs its new lines.
            rows = len(self._strips(index).strips)
        else:
            rows = estimate_rows(cell, self._width)
        return rows + CELL_GAP if rows else 0

    def _content_width(self) -> int:
        return max(self.scrollable_content_region.width, 20)

    def _strips(self, index: int) -> _Drawn:
        """Cell ``index`` drawn at the current width (from the cache when it has not
        changed; a streamed cell's completed lines are kept)."""
        cell = self.cell(index)
        style = self._line_style
        drawn = self._drawn.get(index)
        if drawn is not None and drawn.current(cell, self._width, style):
            return drawn
        grown = streamed(cell, show_reasoning=self.show_reasoning)
        if grown is None:
            text = render_cell(cell, whole=self.whole, show_reasoning=self.show_reasoning)
            drawn = _Drawn(cell, self._render_text(text), self._width, style)
        else:
            drawn = self._draw_streamed(cell, grown, drawn, style)
        self._drawn[index] = drawn
        return drawn

    def _draw_streamed(self, cell: tc.Cell, grown: Streamed, before: _Drawn | None,
                       style: Style) -> _Drawn:
        strips: list[Strip] = []
        done = 0
        if (before is not None and before.cell is cell and before.width == self._width
                and before.style == style and grown.text.startswith(before.done_text)):
            strips, done = before.strips[:before.done_rows], len(before.done_text)
        last_line = grown.text.rfind("\n") + 1
        if last_line > done:
            strips += self._render_text(render_lines_of(grown, done, last_line - 1))
            done = last_line
        done_rows = len(strips)
        strips += self._render_text(render_lines_of(grown, done, len(grown.text)))
        return _Drawn(cell, strips, self._width, style, done_rows=done_rows,
                      done_text=grown.text[:done])

    def _render_text(self, text: Text | None) -> list[Strip]:
        if text is None:
            return []
        options = self._cell_console.options.update_width(self._width)
        lines = self._cell_console.render_lines(text, options, pad=False)
        style = self._line_style
        return [Strip(line).crop_extend(0, self._width, style) for line in lines]

    def _draw(self, index: int) -> _Drawn:
        """Cell ``index`` drawn, the rows below it moved when its height was estimated
        wrong."""
        drawn = self._strips(index)
        old_rows = self._offsets[index + 1] - self._offsets[index]
        new_rows = (len(drawn.strips) + CELL_GAP) if drawn.strips else 0
        if new_rows != old_rows:
            delta = new_rows - old_rows
            for later in range(index + 1, len(self._offsets)):
                self._offsets[later] += delta
            self._set_virtual_height(self._offsets[-1])
            if self._follow:
                self.scroll_end(animate=False, immediate=True, x_axis=False)
        return drawn

    # -- drawing -----------------------------------------------------------------------

    def on_resize(self) -> None:
        self._relayout(0)

    def render_lines(self, crop: Region) -> list[Strip]:
        # Once per batch of rows rather than per row: the style of the padding, and
        # the width, which may have changed since the cells were laid out.
        self._line_style = self.rich_style
        if self._changed_from is not None:
            self.settle()
        if self._content_width() != self._width:
            # Cells shown before the widget had its size (a session opened while the
            # screen was still being laid out) are laid out again at the real width.
            self._relayout(0)
        self._draw_shown()
        return super().render_lines(crop)

    def _draw_shown(self) -> None:
        """Draw every cell with a row on screen before any row is handed out.

        A cell whose estimated height was wrong moves the rows below it (and, while the
        view follows the end, the scroll position): done row by row, the rows above
        would come from the layout before and the frame would show a row twice or
        skip one. Each pass draws the cells now on screen; it ends when drawing them
        moved nothing (each cell is drawn once, so it ends)."""
        height = self.scrollable_content_region.height
        while True:
            top = self.scroll_offset.y
            total = self._offsets[-1]
            index = max(bisect.bisect_right(self._offsets, top) - 1, 0)
            while index < self.cell_count() and self._offsets[index] < top + height:
                self._draw(index)
                index += 1
            if self.scroll_offset.y == top and self._offsets[-1] == total:
                return

    def render_line(self, y: int) -> Strip:
        row = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if row >= self._offsets[-1] or self.cell_count() == 0:
            return Strip.blank(width, self._line_style)
        index = min(bisect.bisect_right(self._offsets, row) - 1, self.cell_count() - 1)
        drawn = self._draw(index)
        inside = row - self._offsets[index]
        if inside >= len(drawn.strips):
            return Strip.blank(width, self._line_style)
        strip = drawn.strips[inside]
        return strip if width == self._width else strip.crop_extend(0, width, self._line_style)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._follow = new >= self.max_scroll_y
        if new <= 0 and self.on_reached_top is not None:
            earlier = self.on_reached_top()
            if earlier:
                self.prepend(earlier)

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
