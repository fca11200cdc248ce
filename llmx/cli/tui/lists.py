"""Keys shared by the screens that pick from a list while the focus stays in a search
field (the resume picker, the history search)."""

from __future__ import annotations

from textual.widgets import OptionList


def move_highlight(options: OptionList, step: int) -> None:
    """Move the highlighted row of ``options`` one down (``step`` > 0) or one up."""
    if step > 0:
        options.action_cursor_down()
    else:
        options.action_cursor_up()
