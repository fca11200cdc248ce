"""The floor of a Textual start-up: a bare app with what llmx's first screen has (a
header, a transcript area, a TextArea composer, a status line and llmx's hint line),
and nothing of llmx. ``bench_tui.py --floor`` starts it beside llmx and Codex: what llmx
needs beyond it to a ready composer is llmx's own; the rest is Python and Textual's.

It draws the status line with the model's name at once, so the bench's "session open"
comes with the first frame.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Static, TextArea


class FloorApp(App[None]):
    CSS = """
    #transcript { height: 1fr; }
    TextArea { height: auto; border: none; }
    """

    def compose(self) -> ComposeResult:
        yield Static(">_ a bare Textual app", id="header")
        yield Static(id="transcript")
        yield TextArea(compact=True)
        yield Static("mock-model · floor", id="status")
        yield Static("/ commands · ctrl+c quit", id="hint")


if __name__ == "__main__":
    FloorApp().run(mouse=False)
