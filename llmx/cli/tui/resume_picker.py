"""The resume picker: the session index, newest first, with search and a folder filter.

Typing filters as it goes: a session stays while every word typed is in one of its
prompts (the index's full-text search, the last word taken as the start of a word) or
in its name, id, folder or git branch, as Codex's picker matches. Tab switches between
the sessions of this folder (the default, as in Codex) and all of them; the highlighted
session's first prompt and last messages are shown below the list. Enter resumes it; Esc
clears the search, or when it is empty starts a new session; Ctrl-C quits.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from llmx.cli.tui.lists import move_highlight
from llmx.projections.sessions.index import SessionIndex
from llmx.projections.sessions.listing import SessionRow, list_sessions, search_sessions
from llmx.projections.sessions.preview import last_messages

PREVIEW_MESSAGES = 4

PAGE_ROWS = 200


def ago(millis: int, now: float | None = None) -> str:
    seconds = max(0, int((now if now is not None else time.time()) - millis / 1000))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def row_label(row: SessionRow, *, show_cwd: bool, now: float | None = None) -> Text:
    label = Text.assemble((f"{ago(row.updated_at_ms, now):>8}  ", "dim"))
    if show_cwd:
        label.append(f"{Path(row.cwd).name or row.cwd}  ", style="cyan")
    title = row.name or row.preview.split("\n", 1)[0]
    label.append(title)
    return label


class ResumePicker(Screen[Path | None]):
    """Dismissed with the chosen session's rollout path, or None for a new session."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "escape", "clear search / leave the picker"),
        Binding("tab", "toggle_scope", "this folder / all"),
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
        Binding("enter", "resume", "resume"),
    ]
    DEFAULT_CSS = """
    ResumePicker #picker-title { height: 1; text-style: bold; }
    ResumePicker Input, ResumePicker Input:focus { border: none; height: 1; padding: 0 1; }
    ResumePicker OptionList { height: 1fr; border: none; }
    ResumePicker #picker-preview { height: auto; max-height: 8; color: $text-muted; }
    ResumePicker #picker-keys { height: 1; color: $text-muted; }
    """

    def __init__(self, home: Path, cwd: Path, *, all_folders: bool = False,
                 escape_says: str = "new") -> None:
        """``escape_says`` what Esc on an empty search leads to: a ``new`` session (at
        start-up), or ``back`` to the session open (``/resume``)."""
        super().__init__()
        self.home = home
        self.cwd = cwd
        self.all_folders = all_folders
        self.escape_says = escape_says
        self.rows: list[SessionRow] = []
        self.problem: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("Resume a previous session", id="picker-title")
        yield Input(placeholder="Type to search", id="picker-search")
        yield OptionList(id="picker-list")
        yield Static(id="picker-preview")
        yield Static(id="picker-keys")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self.reload()

    def reload(self) -> None:
        query = self.query_one(Input).value.strip()
        self.problem = None
        try:
            with SessionIndex.open(self.home) as index:
                cwd = None if self.all_folders else self.cwd
                listed = list_sessions(index, cwd=cwd, limit=PAGE_ROWS).rows
                if query:
                    rows = matching(query, listed, search_sessions(
                        index, query, limit=PAGE_ROWS, prefix=True), cwd)
                else:
                    rows = listed
        except (sqlite3.Error, OSError) as exc:
            # Said as `llmx sessions list` says it: the file system under the index (full,
            # read-only, a folder in its place) is nearly always the cause, not the index.
            rows = []
            self.problem = index_problem(exc, self.home)
        except Exception as exc:  # the index is derived: rebuilding it is the way out
            rows = []
            self.problem = (f"cannot read the session index: {exc} — run "
                            "'llmx sessions reindex'")
        self.rows = rows
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(
            Option(row_label(row, show_cwd=self.all_folders), id=row.id) for row in rows
        )
        if rows:
            options.highlighted = 0
        scope = "all folders" if self.all_folders else str(self.cwd)
        keys = (f"{len(rows)} sessions in {scope} · tab: this folder/all · ↵ resume · "
                f"esc {'clear' if query else self.escape_says} · ctrl+c quit")
        self.query_one("#picker-keys", Static).update(self.problem or keys)
        self._preview()

    def _preview(self) -> None:
        options = self.query_one(OptionList)
        index = options.highlighted
        text = Text()
        if index is not None and 0 <= index < len(self.rows):
            row = self.rows[index]
            text.append(f"{row.id} · {row.cwd} · {row.model or ''}\n", style="dim")
            text.append(row.preview.split("\n", 1)[0])
            last = last_messages(Path(row.rollout_path), PREVIEW_MESSAGES)
            if last and last[0].text == row.preview.split("\n", 1)[0].strip():
                last = last[1:]  # the first prompt is already shown
            for line in last:
                mark = "› " if line.speaker == "user" else "• "
                text.append(f"\n{mark}{line.text}",
                            style="" if line.speaker == "user" else "italic")
        self.query_one("#picker-preview", Static).update(text)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.reload()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_resume()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._preview()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_resume()

    def action_move(self, step: int) -> None:
        move_highlight(self.query_one(OptionList), step)

    def action_toggle_scope(self) -> None:
        self.all_folders = not self.all_folders
        self.reload()

    def action_resume(self) -> None:
        index = self.query_one(OptionList).highlighted
        if index is None or not (0 <= index < len(self.rows)):
            return
        self.dismiss(Path(self.rows[index].rollout_path))

    def action_escape(self) -> None:
        search = self.query_one(Input)
        if search.value:
            search.value = ""  # Input.Changed reloads the list
            return
        self.dismiss(None)


def _contains(row: SessionRow, words: list[str]) -> bool:
    fields = " ".join(f for f in (row.name, row.id, row.cwd, row.git_branch) if f).lower()
    return all(word in fields for word in words)


def matching(query: str, listed: list[SessionRow], found: list[SessionRow],
             cwd: Path | None) -> list[SessionRow]:
    """The sessions ``query`` picks, newest first: those the full-text search ``found`` (in
    ``cwd`` when given) and those of ``listed`` whose name, id, folder or branch hold every
    word."""
    words = query.lower().split()
    if cwd is not None:
        here = os.path.normpath(os.path.abspath(cwd))
        found = [row for row in found if row.cwd == here]
    rows = {row.id: row for row in found}
    rows.update((row.id, row) for row in listed if row.id not in rows and _contains(row, words))
    return sorted(rows.values(), key=lambda row: (row.updated_at_ms, row.id), reverse=True)


def index_problem(exc: sqlite3.Error | OSError, home: Path) -> str:
    """The one line for an index of ``home`` that could not be opened or read."""
    from llmx.cli.errors import os_error
    from llmx.cli.index_failures import index_error

    return str(os_error(exc) if isinstance(exc, OSError) else index_error(exc, home))
