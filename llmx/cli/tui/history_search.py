"""Ctrl-R: search the prompt history as you type, newest first; Enter puts the chosen
prompt in the composer, Esc leaves it as it was."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from llmx.cli.tui.history_recall import HistoryRecall
from llmx.cli.tui.lists import move_highlight

SHOWN = 12


class HistorySearch(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "back"),
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
        Binding("ctrl+r", "move(1)", show=False),
    ]
    DEFAULT_CSS = """
    HistorySearch { align: center bottom; }
    HistorySearch > Vertical { height: auto; max-height: 70%; background: $surface;
        border-top: solid $accent; }
    HistorySearch Input, HistorySearch Input:focus { border: none; height: 1; padding: 0 1; }
    HistorySearch OptionList { height: auto; max-height: 14; border: none; }
    """

    def __init__(self, recall: HistoryRecall) -> None:
        super().__init__()
        self.recall = recall
        self.found: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield OptionList(id="history-found")
            yield Input(placeholder="reverse-i-search", id="history-query")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self._search("")

    def _search(self, query: str) -> None:
        self.found = self.recall.search(query, limit=SHOWN)
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(Option(text.split("\n", 1)[0]) for text in self.found)
        if self.found:
            options.highlighted = 0

    def on_input_changed(self, event: Input.Changed) -> None:
        self._search(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        index = self.query_one(OptionList).highlighted
        self.dismiss(self.found[index] if index is not None and self.found else None)

    def action_move(self, step: int) -> None:
        move_highlight(self.query_one(OptionList), step)

    def action_cancel(self) -> None:
        self.dismiss(None)
