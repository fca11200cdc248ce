"""Starting the TUI: terminal checks, inline or full screen, mouse off, the exit line.

``--no-alt-screen`` (Codex's flag) runs the app inline, under the shell prompt, so the
terminal's scrollback stays usable; the transcript is printed into the scrollback when
the app leaves (Textual keeps an inline app's last frame only).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from llmx.cli.errors import CommandError


def require_terminal(command: str) -> None:
    """The TUI needs a terminal on stdin and stdout."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CommandError(
            "the interactive session needs a terminal on stdin and stdout",
            f"run it in a terminal, or use 'llmx exec' ({command} was given a pipe)",
            code=1,
        )


def run_app(app: object, *, inline: bool) -> int:
    """Run ``app`` (an :class:`~llmx.cli.tui.app.LlmxApp`) until it exits; its exit code."""
    from llmx.cli.tui.app import LlmxApp

    assert isinstance(app, LlmxApp)
    # Mouse reporting off: the terminal's own selection and scrolling keep working.
    result = app.run(inline=inline, mouse=False)
    if inline:
        print_transcript(app)
    if app.return_code not in (None, 0):
        return int(app.return_code)
    return 0 if result is None else int(result)


def print_transcript(app: object) -> None:
    """Print the transcript as plain lines (inline mode leaves it in the scrollback)."""
    from llmx.cli.tui.app import LlmxApp

    assert isinstance(app, LlmxApp)
    color = "NO_COLOR" not in os.environ
    from rich.console import Console

    from llmx.cli.tui.cell_render import render_cell

    console = Console(no_color=not color, highlight=False, soft_wrap=False)
    for cell in app.view.cells:
        text = render_cell(cell, show_reasoning=app.show_reasoning)
        if text is not None:
            console.print(text)
            console.print()


def replay_tui(path: Path, *, inline: bool) -> int:
    """``llmx replay --tui PATH``: the session's transcript, read-only."""
    require_terminal("replay --tui")
    from llmx.cli.tui.app import LlmxApp
    from llmx.projections.transcript_pages import TranscriptPages

    pages = TranscriptPages(path)
    cwd = Path.cwd()
    return run_app(LlmxApp(cwd=cwd, pages=pages), inline=inline)
