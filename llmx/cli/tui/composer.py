"""The composer: a multi-line prompt editor with history recall.

Enter submits (the app decides what a ``/command`` or ``!command`` means); Ctrl-J and
Shift-Enter start a new line; Up on the first line and Down on the last walk the prompt
history (``history_recall``). While the text is an ``@word`` or a ``/command`` being
typed, the popup above offers completions, and Tab or Enter takes the highlighted one.
"""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import TextArea

from llmx.cli.tui.history_recall import HistoryRecall


class Composer(TextArea):
    """Posts :class:`Composer.Submitted`; asks :class:`Composer.Completing` for popups."""

    DEFAULT_CSS = """
    Composer {
        height: auto;
        min-height: 1;
        max-height: 10;
        border: none;
        padding: 0 0 0 2;
        background: $surface;
    }
    Composer:focus {
        border: none;
    }
    """

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Navigate(Message):
        """A key the popup above the composer may want (up, down, tab, enter, escape)."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key
            self.handled = False

    def __init__(self, recall: HistoryRecall, *, id: str | None = None) -> None:
        super().__init__(
            "", id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus",
            highlight_cursor_line=False, compact=True,
        )
        self.recall = recall
        # Set by the app while a popup (completions) is open.
        self.popup_open = False

    def set_text(self, text: str) -> None:
        self.text = text
        last = text.split("\n")
        self.cursor_location = (len(last) - 1, len(last[-1]))

    async def _on_key(self, event: events.Key) -> None:
        key = event.key
        if self.popup_open and key in ("up", "down", "tab", "enter", "escape"):
            event.prevent_default()
            event.stop()
            self.post_message(self.Navigate(key))
            return
        if key == "enter":
            event.prevent_default()
            event.stop()
            text = self.text
            if text.strip():
                self.post_message(self.Submitted(text))
            return
        if key in ("ctrl+j", "shift+enter"):
            event.prevent_default()
            event.stop()
            self.insert("\n")
            return
        row, _column = self.cursor_location
        if key == "up" and row == 0:
            recalled = self.recall.older(self.text)
            if recalled is not None:
                event.prevent_default()
                event.stop()
                self.set_text(recalled)
                self.move_cursor((0, 0))
                return
        if key == "down" and row == self.document.line_count - 1:
            recalled = self.recall.newer()
            if recalled is not None:
                event.prevent_default()
                event.stop()
                self.set_text(recalled)
                return
        await super()._on_key(event)
