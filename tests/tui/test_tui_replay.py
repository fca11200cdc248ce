"""``llmx replay --tui``: the app shows the fold of the file, a page at a time."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from projections.rollout_builder import RolloutBuilder
from support import PROJECT_ROOT, fixture_rollouts

from llmx.cli.tui.app import LlmxApp
from llmx.cli.tui.cell_render import plain_text
from llmx.projections import transcript_cells as tc
from llmx.projections.transcript_pages import TranscriptPages, fold_file

pytestmark = pytest.mark.asyncio
SAMPLE = PROJECT_ROOT / "examples" / "sample.rollout.jsonl"


def view(cells: list[tc.Cell]) -> list[tc.Cell]:
    return [msgspec.structs.replace(cell, revision=0) for cell in cells]


@pytest.mark.parametrize("path", [*fixture_rollouts(), SAMPLE], ids=lambda p: p.name)
async def test_replay_shows_the_fold_of_the_file(path: Path) -> None:
    app = LlmxApp(cwd=Path("/home/dev/project"), pages=TranscriptPages(path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert view(app.view.cells) == view(fold_file(path).cells)
        assert app.read_only
        shown = "\n".join(app.view.plain_lines())
        for cell in app.view.cells:
            first = plain_text(cell).split("\n", 1)[0]
            assert first[:60] in shown
        await pilot.press("escape")
    assert app.return_code == 0


def long_session(path: Path, turns: int) -> Path:
    builder = RolloutBuilder()
    for number in range(turns):
        turn_id = f"t{number}"
        builder.turn(turn_id, f"question {number}", f"answer {number}", tokens=100 + number)
        builder.event("item_completed", thread_id=builder.thread_id, turn_id=turn_id,
                      item={"type": "AgentMessage", "id": f"a{number}",
                            "content": [{"type": "Text", "text": f"answer {number}"}]})
    return builder.write(path)


async def test_a_long_session_opens_on_its_last_page_and_loads_the_rest_upwards(
    tmp_path: Path,
) -> None:
    path = long_session(tmp_path / "long.jsonl", 120)
    pages = TranscriptPages(path, turns_per_page=20)
    app = LlmxApp(cwd=tmp_path, pages=pages)
    whole = fold_file(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        opened = app.view.cell_count()
        # Only the newest page is folded (3 cells a turn: prompt, answer, end).
        assert opened == 20 * 3
        assert pages.has_earlier
        assert app.view.cells[-2] == whole.cells[-2]
        # Scrolling to the top folds the page before, and so on to the first turn.
        for _ in range(10):
            app.view.scroll_home(animate=False, immediate=True)
            await pilot.pause()
        assert not pages.has_earlier
        assert view(app.view.cells) == view(whole.cells)
        # The status line says what the last turn's context said.
        status = str(app.query_one("#status").render())
        assert "mock-model" in status
        assert "read-only" in status
        assert "approval on-request" in status


async def test_the_transcript_redraws_at_a_new_width(tmp_path: Path) -> None:
    path = long_session(tmp_path / "long.jsonl", 3)
    app = LlmxApp(cwd=tmp_path, pages=TranscriptPages(path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        wide = app.view.plain_lines()
        await pilot.resize_terminal(40, 24)
        await pilot.pause()
        narrow = app.view.plain_lines()
        assert max(len(line) for line in narrow) <= 40
        assert [line for line in wide if line] == [line for line in narrow if line]
