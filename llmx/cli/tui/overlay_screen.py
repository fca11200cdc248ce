"""Full-screen views over the session: the transcript overlay (Ctrl-T, with every
command's output and every diff whole), backtracking (Esc Esc: pick an earlier prompt to
edit and continue from), and a plain text page (``/diff``, ``/status``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from llmx.cli.tui.transcript_view import TranscriptView
from llmx.projections import transcript_cells as tc


class TranscriptOverlay(Screen[None]):
    """The whole transcript, outputs and diffs unabridged; Esc or q goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,ctrl+t", "app.pop_screen", "back"),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("home", "edge(0)", show=False),
        Binding("end", "edge(1)", show=False),
    ]
    DEFAULT_CSS = """
    TranscriptOverlay #overlay-title, TranscriptOverlay #overlay-keys {
        height: 1;
        color: $text-muted;
    }
    """

    def __init__(self, cells: Sequence[tc.Cell], *, show_reasoning: bool) -> None:
        super().__init__()
        self._cells = list(cells)
        self._show_reasoning = show_reasoning

    def compose(self) -> ComposeResult:
        yield Static("/ T R A N S C R I P T /", id="overlay-title")
        yield TranscriptView(show_reasoning=self._show_reasoning, whole=True, id="overlay-view")
        yield Static("↑↓ scroll · pgup/pgdn page · home/end · esc back", id="overlay-keys")

    def on_mount(self) -> None:
        view = self.query_one(TranscriptView)
        view.show(self._cells)
        view.focus()

    def action_page(self, direction: int) -> None:
        view = self.query_one(TranscriptView)
        if direction < 0:
            view.scroll_page_up(animate=False)
        else:
            view.scroll_page_down(animate=False)

    def action_edge(self, end: int) -> None:
        view = self.query_one(TranscriptView)
        if end:
            view.scroll_end(animate=False)
        else:
            view.scroll_home(animate=False)


class BacktrackScreen(ModalScreen[int | None]):
    """Pick an earlier prompt (←/→ or ↑/↓), Enter to edit it; dismissed with how many
    turns back it is (1: the last prompt), or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "cancel", "back"),
        Binding("left,up,k,h", "move(-1)", show=False),
        Binding("right,down,j,l", "move(1)", show=False),
        Binding("enter", "choose", "edit this prompt"),
    ]
    DEFAULT_CSS = """
    BacktrackScreen { align: center bottom; }
    BacktrackScreen > VerticalScroll {
        height: auto; max-height: 80%; background: $surface; border-top: solid $accent;
        padding: 0 1;
    }
    """

    def __init__(self, prompts: Sequence[str], *,
                 keys: str = "Browsing prompts · ←→ prompts · ↵ rewind and edit · esc back",
                 ) -> None:
        super().__init__()
        self._prompts = list(prompts)
        self._chosen = len(self._prompts) - 1
        self._keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="backtrack-list")
            yield Static(self._keys, id="backtrack-keys")

    def on_mount(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        text = Text()
        for index, prompt in enumerate(self._prompts):
            first = prompt.split("\n", 1)[0]
            style = "reverse bold" if index == self._chosen else ""
            text.append(f"› {first}\n", style=style)
        self.query_one("#backtrack-list", Static).update(text)

    def action_move(self, step: int) -> None:
        if self._prompts:
            self._chosen = max(0, min(len(self._prompts) - 1, self._chosen + step))
            self._redraw()

    def action_choose(self) -> None:
        if not self._prompts:
            self.dismiss(None)
            return
        self.dismiss(len(self._prompts) - self._chosen)

    def action_cancel(self) -> None:
        self.dismiss(None)


class RevertFilesScreen(ModalScreen[bool | None]):
    """After picking a prompt to go back to: also revert the files those turns patched?
    Dismissed with False (keep them, the default: Enter or n), True (y), or None (Esc:
    do not go back)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "cancel", "back"),
        Binding("enter,n", "keep", "keep the files"),
        Binding("y", "revert", "revert the patches"),
    ]
    DEFAULT_CSS = """
    RevertFilesScreen { align: center bottom; }
    RevertFilesScreen > VerticalScroll {
        height: auto; max-height: 80%; background: $surface; border-top: solid $accent;
        padding: 0 1;
    }
    """

    def __init__(self, turns: int, patched: Sequence[str]) -> None:
        super().__init__()
        self._turns = turns
        self._patched = list(patched)

    def compose(self) -> ComposeResult:
        text = Text()
        count = f"{self._turns} turn{'s' if self._turns != 1 else ''}"
        text.append(f"Going back drops {count}. Also revert the files their patches "
                    "changed?\n", style="bold")
        for path in self._patched:
            text.append(f"  {path}\n")
        text.append("Only patches can be reverted: changes made by shell commands stay as "
                    "they are. If a file changed since, nothing is reverted.\n", style="dim")
        with VerticalScroll():
            yield Static(text, id="revert-question")
            yield Static("↵/n keep the files (default) · y revert the patches · esc back",
                         id="revert-keys")

    def action_keep(self) -> None:
        self.dismiss(False)

    def action_revert(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TextPage(Screen[None]):
    """A page of text (a diff, the status); Esc or q goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "app.pop_screen", "back")]

    def __init__(self, title: str, body: Text) -> None:
        super().__init__()
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        yield Static(Text(self._title, style="bold"))
        with VerticalScroll():
            yield Static(self._body)
        yield Static(Text("esc back", style="dim"))
