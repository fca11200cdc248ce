"""Starting the TUI, live or replaying: terminal checks, inline or full screen, mouse off.

``--no-alt-screen`` (Codex's flag) runs the app inline, under the shell prompt, so the
terminal's scrollback stays usable; the transcript is printed into the scrollback when
the app leaves (Textual keeps an inline app's last frame only).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from llmx.cli.errors import CommandError
from llmx.cli.tui.heap import Heap

if TYPE_CHECKING:
    from llmx.cli.tui.app import LlmxApp
    from llmx.cli.tui.session_start import Start
    from llmx.events.primitives import TokenUsage
    from llmx.runtime import ThreadOptions


# Ticks a second of the screen's frame clock (Textual's TEXTUAL_FPS, 60 by default). A
# change is drawn at one of the clock's ticks, and after a frame the clock skips to one
# to two ticks later, whatever changes meanwhile: at 240 a key typed while the model
# streams waited up to 8 ms for its frame, at 1000 up to 2 ms. The
# transcript and the status line are laid out at most once per FRAME_S (transcript_view)
# by their own timers, so a faster clock draws sooner, not more: a tick with nothing
# changed draws nothing, and the clock sleeps while nothing changes.
SCREEN_FPS = 1000


def load_textual() -> None:
    """Import Textual with the screen's clock at :data:`SCREEN_FPS` (unless the user set
    ``TEXTUAL_FPS``), without leaving the setting in the environment the session's
    commands inherit."""
    if "textual.constants" in sys.modules:
        return
    given = os.environ.get("TEXTUAL_FPS")
    if given is None:
        os.environ["TEXTUAL_FPS"] = str(SCREEN_FPS)
    try:
        import textual.constants  # noqa: F401
    finally:
        if given is None:
            del os.environ["TEXTUAL_FPS"]


def require_terminal(command: str, instead: str = "use 'llmx exec'") -> None:
    """The TUI needs a terminal on stdin and stdout; ``instead`` is what works without."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CommandError(
            "the interactive session needs a terminal on stdin and stdout",
            f"run it in a terminal, or {instead} ({command} was given a pipe)",
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
    require_terminal("replay --tui", "drop --tui to print it")
    heap = Heap()
    heap.hold()
    try:
        load_textual()
        from llmx.cli.tui.app import LlmxApp
        from llmx.projections.transcript_pages import TranscriptPages

        pages = TranscriptPages(path)
        cwd = Path.cwd()
        return run_app(LlmxApp(cwd=cwd, pages=pages, heap=heap), inline=inline)
    finally:
        heap.restore()


def run_live(args: argparse.Namespace, start: Start) -> int:
    """``llmx`` and ``llmx resume``: a live session on the runtime's door."""
    from llmx.cli.tui.log_notes import route_log_warnings_to

    require_terminal("llmx")
    app = live_app(args, start)
    try:
        route_log_warnings_to(app.note)
        code = run_app(app, inline=args.no_alt_screen)
    finally:
        app.heap.restore()
    for line in farewell(app):
        print(line)
    if app.door is not None and app.door.otel_problem is not None:
        from llmx.cli.errors import warn

        warn("", app.door.otel_problem)
    if app.failure is not None:
        from llmx.cli.thread_errors import thread_error

        raise thread_error(app.failure)
    return code


def live_app(args: argparse.Namespace, start: Start) -> LlmxApp:
    """The app of a live session for the command line ``args``, not running yet: Textual
    and the first screen loaded with the collector held off (the app turns it back on at
    its first frame; :meth:`Heap.restore` if it never runs)."""
    heap = Heap()
    heap.hold()
    try:
        load_textual()
        from llmx.cli.session_flags import image_inputs, session_cwd, thread_options
        from llmx.cli.tui.app import LlmxApp
        from llmx.cli.tui.door import Door
        from llmx.cli.tui.history_recall import HistoryRecall
        from llmx.events.history import HistoryFile
        from llmx.events.home import history_path, llmx_home

        cwd = session_cwd(args)
        images = image_inputs(args.image, cwd)
        home = llmx_home()

        def options() -> ThreadOptions:
            # Built when the first thread opens: it imports the runtime, which the first
            # screen does without.
            return thread_options(args, cwd)

        return LlmxApp(
            cwd=cwd, door=Door(options, home), start=start,
            recall=HistoryRecall(HistoryFile(history_path(home))), images=images,
            heap=heap,
        )
    except BaseException:
        heap.restore()
        raise


def farewell(app: LlmxApp) -> list[str]:
    """What is printed once the session's screen is gone, as Codex prints it: the tokens
    the session used and how to come back to it. Nothing for a thread that was never
    saved (no prompt, no file)."""
    thread = app.quit_from
    if thread is None or thread.rollout_path is None or not thread.rollout_path.exists():
        return []
    lines = []
    usage = app.fold.status.total_usage
    if usage is not None and usage.total_tokens:
        lines.append(token_usage_line(usage))
    lines += ["To continue this session, run:", f"  llmx resume {thread.thread_id}"]
    return lines


def token_usage_line(usage: TokenUsage) -> str:
    """``Token usage: total=N input=N (+ N cached) output=N (reasoning N)``: Codex's
    summary, whose total counts the input not served from the cache and the output."""
    cached = min(usage.cached_input_tokens, usage.input_tokens)
    fresh = usage.input_tokens - cached
    line = f"Token usage: total={fresh + usage.output_tokens:,} input={fresh:,}"
    if cached:
        line += f" (+ {cached:,} cached)"
    line += f" output={usage.output_tokens:,}"
    if usage.reasoning_output_tokens:
        line += f" (reasoning {usage.reasoning_output_tokens:,})"
    return line
