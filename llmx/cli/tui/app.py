"""The interactive session: transcript above, composer below, status line at the bottom.

Everything in the transcript is the fold of the lines the thread publishes (or of the
file, for a replay), exactly as ``exec`` prints its fold. Every key that changes the
session goes to the thread as a submission (a prompt, an approval decision, an interrupt,
a slash command that changes something), which the runtime logs before acting on it; the
app changes nothing on screen by itself except what is its own (the composer, popups,
the queue of prompts typed while a turn runs).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from llmx import __version__
from llmx.cli.tui import slash_commands as slash
from llmx.cli.tui.approval_screen import ApprovalScreen
from llmx.cli.tui.composer import Composer
from llmx.cli.tui.file_search import mention_at, rank, workspace_files
from llmx.cli.tui.history_recall import HistoryRecall
from llmx.cli.tui.overlay_screen import BacktrackScreen, TextPage, TranscriptOverlay
from llmx.cli.tui.thread_link import ThreadLink, ThreadOpener
from llmx.cli.tui.transcript_view import TranscriptView
from llmx.events.lines import RolloutLine
from llmx.events.ops import (
    ExecApproval,
    Interrupt,
    Op,
    PatchApproval,
    ResolveElicitation,
    ReviewDecision,
    RunUserShellCommand,
    UserInputOp,
)
from llmx.events.primitives import TextInput
from llmx.projections import transcript_cells as tc
from llmx.projections.transcript import PendingApproval, SessionStatus, TranscriptFold
from llmx.projections.transcript_pages import TranscriptPages

# A second Ctrl-C within this many seconds on an idle composer quits.
QUIT_WINDOW_S = 2.0
# A second Esc within this many seconds on an empty composer opens backtracking.
BACKTRACK_WINDOW_S = 1.0
_ELICITATION_ANSWERS = {
    ReviewDecision.APPROVED: "accept",
    ReviewDecision.APPROVED_FOR_SESSION: "accept",
    ReviewDecision.DENIED: "decline",
    ReviewDecision.ABORT: "cancel",
}


def status_text(status: SessionStatus, *, fallback_cwd: str = "") -> Text:
    """The status line: model, cwd, sandbox, approval policy, tokens, context left."""
    parts = [
        status.model or "model ?",
        status.cwd or fallback_cwd,
        status.sandbox or "sandbox ?",
        f"approval {status.approval_policy}" if status.approval_policy else "approval ?",
        f"{status.total_tokens:,} tokens",
    ]
    left = status.context_left_percent()
    if left is not None:
        parts.append(f"{left}% context left")
    return Text(" · ".join(parts), style="dim")


def decision_op(request: PendingApproval, decision: ReviewDecision) -> Op:
    """The submission that answers ``request`` with ``decision``."""
    if request.kind == "patch":
        return PatchApproval(id=request.call_id, decision=decision.value)
    if request.kind == "mcp":
        return ResolveElicitation(server_name=request.server, request_id=request.call_id,
                                  decision=_ELICITATION_ANSWERS[decision])
    op = ExecApproval(id=request.call_id, decision=decision.value)
    if request.turn_id:
        op.turn_id = request.turn_id
    return op


class LlmxApp(App[int]):
    """One interactive session (or a read-only replay when there is no thread)."""

    CSS = """
    Screen { layout: vertical; }
    #header { height: 2; padding: 0 1; }
    #activity { height: auto; max-height: 4; padding: 0 1; color: $text-muted; }
    #popup { height: auto; max-height: 8; border: none; display: none; padding: 0 1; }
    #popup.visible { display: block; }
    #prompt-mark { width: 2; height: 1; dock: left; }
    #status { height: 1; padding: 0 1; }
    #hint { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "ctrl_c", "interrupt / quit", show=False, priority=True),
        Binding("escape", "escape", "interrupt / backtrack", show=False),
        Binding("ctrl+t", "transcript", "transcript", show=False, priority=True),
        Binding("ctrl+r", "history_search", "search history", show=False),
    ]

    def __init__(
        self,
        *,
        cwd: Path,
        link: ThreadLink | None = None,
        pages: TranscriptPages | None = None,
        opener: ThreadOpener | None = None,
        recall: HistoryRecall | None = None,
        show_reasoning: bool = True,
        pick_session: Callable[[], Path | None] | None = None,
    ) -> None:
        super().__init__()
        self.cwd = cwd
        self.link = link
        self.pages = pages
        self.opener = opener
        self.recall = recall or HistoryRecall(None)
        self.show_reasoning = show_reasoning
        self.read_only = link is None
        self.fold = TranscriptFold()
        self.queued: list[str] = []
        self.notes: list[str] = []
        self._shown_requests: set[str] = set()
        self._asking = False
        self._last_ctrl_c = 0.0
        self._last_escape = 0.0
        self._files: list[str] | None = None
        self._popup_kind = ""
        self._popup_items: list[str] = []
        self._listener: asyncio.Task[None] | None = None
        self._turn_started_at: float | None = None
        self.lines_seen = 0
        self._pick_session = pick_session
        self._chrome_ready = False

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        header = Text(">_ ", style="dim")
        header.append(f"llmx (v{__version__})", style="bold")
        header.append(f"\n   {self.cwd}", style="dim")
        yield Static(header, id="header")
        yield TranscriptView(show_reasoning=self.show_reasoning, id="transcript")
        yield Static(id="activity")
        yield OptionList(id="popup")
        yield Composer(self.recall, id="composer")
        yield Static(id="status")
        yield Static(id="hint")

    @property
    def view(self) -> TranscriptView:
        return self.query_one("#transcript", TranscriptView)

    @property
    def composer(self) -> Composer:
        return self.query_one("#composer", Composer)

    def on_mount(self) -> None:
        self._show_thread(self.link, self.pages)
        composer = self.composer
        if self.read_only:
            composer.disabled = True
            composer.display = False
        else:
            composer.focus()
        self.set_interval(1.0, self._tick)
        self._chrome_ready = True
        self._refresh_chrome()

    # -- the thread --------------------------------------------------------------------

    def _show_thread(self, link: ThreadLink | None, pages: TranscriptPages | None) -> None:
        self.link, self.pages = link, pages
        self.read_only = link is None
        self.fold = pages.newest() if pages is not None else TranscriptFold()
        self.fold.take_dirty_from()
        if self.read_only:
            self.fold.finish()
        for problem in pages.problems if pages is not None else []:
            self.notes.append(problem)
        view = self.view
        view.show(self.fold.cells)
        view.on_reached_top = self._earlier_page if pages is not None else None
        self._shown_requests = set(self.fold.pending)
        if link is not None:
            self._listener = asyncio.get_running_loop().create_task(self._listen(link))
        self._refresh_chrome()

    def _earlier_page(self) -> list[tc.Cell]:
        if self.pages is None or not self.pages.has_earlier:
            return []
        return self.pages.earlier()

    async def _listen(self, link: ThreadLink) -> None:
        async for line in link.subscribe():
            self.feed(line)

    def feed(self, line: RolloutLine) -> None:
        """One line the thread published: fold it and show what changed."""
        self.lines_seen += 1
        was_running = self.fold.status.turn_running
        self.fold.feed_line(line)
        self.view.changed_from(self.fold.take_dirty_from())
        running = self.fold.status.turn_running
        if running and not was_running:
            self._turn_started_at = time.monotonic()
        if was_running and not running:
            self._turn_started_at = None
            self._send_queued()
        self._ask_pending()
        self._refresh_chrome()

    def _ask_pending(self) -> None:
        if self._asking or self.read_only:
            return
        for call_id, request in self.fold.pending.items():
            if call_id in self._shown_requests:
                continue
            self._shown_requests.add(call_id)
            self._asking = True

            self.push_screen(ApprovalScreen(request), self._answer_for(request))
            return

    def _answer_for(self, request: PendingApproval) -> Callable[[ReviewDecision | None], None]:
        def answered(decision: ReviewDecision | None) -> None:
            self._asking = False
            self._decide(request, decision or ReviewDecision.ABORT)

        return answered

    @work(exclusive=False, group="submit")
    async def _decide(self, request: PendingApproval, decision: ReviewDecision) -> None:
        await self.submit(decision_op(request, decision))
        self._ask_pending()

    async def submit(self, op: Op) -> None:
        if self.link is None:
            return
        await self.link.submit(op)

    # -- the composer ------------------------------------------------------------------

    async def on_composer_submitted(self, message: Composer.Submitted) -> None:
        text = message.text
        self.composer.set_text("")
        self.recall.add(text)
        self._close_popup()
        command = slash.parse(text)
        if command is not None:
            await self.run_slash(*command)
            return
        if self.fold.status.turn_running:
            self.queued.append(text)
            self._refresh_chrome()
            return
        await self.send_prompt(text)

    async def send_prompt(self, text: str) -> None:
        if text.startswith("!") and len(text) > 1:
            await self.submit(RunUserShellCommand(command=text[1:].strip()))
            return
        await self.submit(UserInputOp(items=[TextInput(text=text)]))

    def _send_queued(self) -> None:
        if self.queued:
            text = self.queued.pop(0)
            self.run_worker(self.send_prompt(text), group="submit")

    def on_text_area_changed(self, event: Composer.Changed) -> None:
        composer = self.composer
        text = composer.text
        row, column = composer.cursor_location
        line = text.split("\n")[row] if text else ""
        if row == 0 and line.startswith("/") and " " not in line:
            commands = slash.matching(line[1:])
            self._open_popup("slash", [f"/{c.name}" for c in commands],
                             [f"/{c.name:<12} {c.summary}" for c in commands])
            return
        mention = mention_at(line, column)
        if mention is not None:
            if self._files is None:
                self._files = workspace_files(self.cwd)
            found = rank(mention[1], self._files)
            self._open_popup("mention", found, found)
            return
        self._close_popup()

    def _open_popup(self, kind: str, values: list[str], labels: list[str]) -> None:
        popup = self.query_one("#popup", OptionList)
        if not values:
            self._close_popup()
            return
        self._popup_kind, self._popup_items = kind, values
        popup.clear_options()
        popup.add_options(Option(label) for label in labels)
        popup.highlighted = 0
        popup.add_class("visible")
        self.composer.popup_open = True

    def _close_popup(self) -> None:
        self.query_one("#popup", OptionList).remove_class("visible")
        self._popup_kind, self._popup_items = "", []
        self.composer.popup_open = False

    def on_composer_navigate(self, message: Composer.Navigate) -> None:
        popup = self.query_one("#popup", OptionList)
        if message.key == "escape":
            self._close_popup()
        elif message.key == "up":
            popup.action_cursor_up()
        elif message.key == "down":
            popup.action_cursor_down()
        else:
            self._take_completion(popup.highlighted or 0, submit=message.key == "enter")

    def _take_completion(self, index: int, *, submit: bool) -> None:
        if not self._popup_items:
            return
        value = self._popup_items[min(index, len(self._popup_items) - 1)]
        composer = self.composer
        kind = self._popup_kind
        self._close_popup()
        if kind == "slash":
            if submit:
                composer.post_message(Composer.Submitted(value))
            else:
                composer.set_text(value + " ")
            return
        row, column = composer.cursor_location
        lines = composer.text.split("\n")
        found = mention_at(lines[row], column)
        if found is None:
            return
        start = found[0]
        lines[row] = lines[row][:start] + value + " " + lines[row][column:]
        composer.text = "\n".join(lines)
        composer.cursor_location = (row, start + len(value) + 1)
        self._close_popup()

    # -- keys --------------------------------------------------------------------------

    async def action_ctrl_c(self) -> None:
        if self.screen is not self.screen_stack[0]:
            return
        if self.fold.status.turn_running and not self.read_only:
            await self.submit(Interrupt())
            return
        if self.composer.text:
            self.composer.set_text("")
            return
        now = time.monotonic()
        if now - self._last_ctrl_c <= QUIT_WINDOW_S or self.read_only:
            await self.quit_session()
            return
        self._last_ctrl_c = now
        self._refresh_chrome()

    async def action_escape(self) -> None:
        if self.read_only:
            self.exit(0)
            return
        if self.fold.status.turn_running:
            await self.submit(Interrupt())
            return
        if self.composer.text:
            return
        now = time.monotonic()
        if now - self._last_escape <= BACKTRACK_WINDOW_S:
            self._last_escape = 0.0
            self.open_backtrack()
            return
        self._last_escape = now
        self._refresh_chrome()

    def open_backtrack(self) -> None:
        prompts = [
            cell.text for cell in self.view.cells if isinstance(cell, tc.UserCell)
        ]

        def chosen(back: int | None) -> None:
            if back is not None:
                self.run_worker(self.backtrack(back, prompts[-back]), group="submit")

        self.push_screen(BacktrackScreen(prompts), chosen)

    async def backtrack(self, back: int, prompt: str) -> None:
        """Roll the thread back to before the ``back``-th last prompt and put that prompt
        in the composer to be edited (the rollback is a submission, as in Codex)."""
        from llmx.events.ops import ThreadRollback

        await self.submit(ThreadRollback(num_turns=back))
        self.composer.set_text(prompt)

    def action_transcript(self) -> None:
        if isinstance(self.screen, TranscriptOverlay):
            self.pop_screen()
            return
        self.push_screen(TranscriptOverlay(self.view.cells, show_reasoning=self.show_reasoning))

    def action_history_search(self) -> None:
        from llmx.cli.tui.history_search import HistorySearch

        def chosen(text: str | None) -> None:
            if text is not None:
                self.composer.set_text(text)

        self.push_screen(HistorySearch(self.recall), chosen)

    async def quit_session(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
        if self.link is not None:
            await self.link.close()
        self.exit(0)

    # -- slash commands ----------------------------------------------------------------

    async def run_slash(self, name: str, argument: str) -> None:
        from llmx.cli.tui.slash_actions import run_slash_command

        await run_slash_command(self, name, argument)

    async def switch_to(self, link: ThreadLink, pages: TranscriptPages | None) -> None:
        """Leave the current thread (closing it) and show ``link``'s."""
        if self._listener is not None:
            self._listener.cancel()
        if self.link is not None:
            await self.link.close()
        self.queued.clear()
        self._show_thread(link, pages)

    def show_page(self, title: str, body: Text) -> None:
        self.push_screen(TextPage(title, body))

    def note(self, text: str) -> None:
        """A line for the user that is not part of the session (shown above the composer)."""
        self.notes.append(text)
        self._refresh_chrome()

    # -- chrome ------------------------------------------------------------------------

    def _tick(self) -> None:
        if self._turn_started_at is not None:
            self._refresh_chrome()

    def _refresh_chrome(self) -> None:
        if not self._chrome_ready:
            return
        activity = Text()
        if self.fold.status.turn_running:
            seconds = 0 if self._turn_started_at is None else int(
                time.monotonic() - self._turn_started_at)
            activity.append(f"◦ Working ({seconds}s • esc to interrupt)", style="cyan")
        for text in self.queued:
            activity.append(("\n" if activity else "") + f"↳ queued: {text.splitlines()[0]}",
                            style="dim")
        for text in self.notes[-2:]:
            activity.append(("\n" if activity else "") + text, style="yellow")
        self.query_one("#activity", Static).update(activity)
        status = self.fold.status
        self.query_one("#status", Static).update(status_text(status, fallback_cwd=str(self.cwd)))
        hint = "replay (read-only) · ctrl+t transcript · esc or ctrl+c quit" if self.read_only \
            else "/ commands · @ files · ! shell · ctrl+r history · ctrl+t transcript"
        if time.monotonic() - self._last_ctrl_c <= QUIT_WINDOW_S:
            hint = "press ctrl+c again to quit"
        elif time.monotonic() - self._last_escape <= BACKTRACK_WINDOW_S:
            hint = "press esc again to edit a previous message"
        self.query_one("#hint", Static).update(Text(hint, style="dim"))

    def on_key(self, event: events.Key) -> None:
        if event.key not in ("escape", "ctrl+c"):
            self._last_escape = 0.0
