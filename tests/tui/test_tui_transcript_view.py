"""The transcript widget draws each frame from one layout, and a streamed cell drawn a
line at a time shows what the whole cell drawn at once shows."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from rich.console import Console
from support import fixture_rollouts
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip

from llmx.cli.tui.cell_render import render_cell
from llmx.cli.tui.transcript_view import TranscriptView
from llmx.projections import transcript_cells as tc
from llmx.projections.transcript_pages import fold_file

pytestmark = pytest.mark.asyncio


class ViewApp(App[None]):
    def compose(self) -> ComposeResult:
        yield TranscriptView(id="transcript")


def styled(strip: Strip) -> list[tuple[str, str]]:
    """Each character of a row with its style, however the row is cut into segments."""
    return [(char, str(segment.style)) for segment in strip for char in segment.text]


def whole(cell: tc.Cell, width: int) -> list[list[tuple[str, str]]]:
    """``cell`` drawn at once, as the view draws a cell it has not drawn before."""
    text = render_cell(cell)
    assert text is not None
    console = Console(width=width, color_system="truecolor", force_terminal=True)
    lines = console.render_lines(text, console.options.update_width(width), pad=False)
    return [styled(Strip(line)) for line in lines]


@pytest.mark.parametrize("path", fixture_rollouts(), ids=lambda p: p.name)
async def test_the_first_frame_of_a_session_shows_each_row_once(path: Path) -> None:
    # Rows of cells not drawn yet are estimated; drawing a cell corrects the rows
    # below it and the scroll position. The first frame, drawn from estimates, must
    # already be the bottom of the transcript as a whole (it used to show a row twice
    # when a correction came halfway through the frame).
    cells = fold_file(path).cells
    app = ViewApp()
    async with app.run_test(size=(80, 12)) as pilot:
        view = app.query_one(TranscriptView)
        await pilot.pause()
        view.show(cells)
        height = view.scrollable_content_region.height
        width = view.scrollable_content_region.width
        shown = [strip.text.rstrip() for strip in view.render_lines(Region(0, 0, width, height))]
        rows = view.plain_lines()
        top = view.scroll_offset.y
        assert top == max(0, len(rows) - height)
        assert shown == (rows[top:top + height] + [""] * height)[:height]


@pytest.mark.parametrize("kind", ["answer", "reasoning"])
async def test_a_streamed_cell_drawn_line_by_line_is_the_whole_cell(kind: str) -> None:
    # Deltas of random sizes, cutting lines and words anywhere, some lines longer than
    # the width (they wrap), blank lines, and a final text that rewrites the stream
    # (a completed item may differ from its deltas).
    chance = random.Random(13)
    words = ["w" * chance.randint(1, 12) for _ in range(400)]
    text = "".join(word + chance.choice([" ", " ", " ", "\n", "\n\n"]) for word in words)
    cell: tc.AgentCell | tc.ReasoningCell = (
        tc.AgentCell(item_id="a", text="", streaming=True) if kind == "answer"
        else tc.ReasoningCell(item_id="r", text="", streaming=True))
    live: list[tc.Cell] = [tc.UserCell(text="go"), cell]
    app = ViewApp()
    async with app.run_test(size=(40, 20)) as pilot:
        view = app.query_one(TranscriptView)
        view.show(live)
        await pilot.pause()
        position = 0
        while position < len(text):
            position = min(len(text), position + chance.randint(1, 30))
            cell.text = text[:position]
            cell.touch()
            view.changed_from(1)
            # Some changes drawn in a frame before the next, some with the next.
            if chance.random() < 0.5:
                continue
            await pilot.pause()
            # Read each time: the scrollbar takes a column once the rows overflow.
            width = view.scrollable_content_region.width
            rows = view.plain_lines()
            assert rows[2:-1] == [line.rstrip() for line in view_rows(cell, width)]
        cell.text = text.replace("\n\n", "\n").upper()
        cell.touch()
        view.changed_from(1)
        await pilot.pause()
        width = view.scrollable_content_region.width
        # Styles too: each row as the whole cell draws it (the view pads it to its width).
        drawn = view._draw(1).strips
        assert [trim(styled(strip)) for strip in drawn] == [trim(row) for row in whole(cell, width)]


def view_rows(cell: tc.Cell, width: int) -> list[str]:
    return ["".join(char for char, _ in row) for row in whole(cell, width)]


def trim(row: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A row without the blanks at its end (the view pads rows to its width)."""
    end = len(row)
    while end and row[end - 1][0] == " ":
        end -= 1
    return row[:end]
