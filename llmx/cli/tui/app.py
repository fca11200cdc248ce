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
import contextlib
import copy
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.timer import Timer
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from llmx import __version__
from llmx.cli.tui import slash_commands as slash
from llmx.cli.tui.composer import Composer
from llmx.cli.tui.file_search import FileIndex, in_git_repository, mention_at
from llmx.cli.tui.heap import Heap
from llmx.cli.tui.history_recall import HistoryRecall
from llmx.cli.tui.session_start import Start, StartKind
from llmx.cli.tui.transcript_view import FRAME_S, TranscriptView
from llmx.events.event_msgs import ErrorEvent, ThreadRolledBack
from llmx.events.ops import (
    ExecApproval,
    Interrupt,
    Op,
    PatchApproval,
    ResolveElicitation,
    ReviewDecision,
    RunUserShellCommand,
    ThreadRollback,
    UserInputAnswer,
    UserTurn,
)
from llmx.events.primitives import TextInput
from llmx.projections import transcript_cells as tc
from llmx.projections.transcript import (
    PendingApproval,
    SessionStatus,
    TranscriptFold,
    sandbox_name,
)

if TYPE_CHECKING:
    # The first screen is drawn before these are imported: the runtime (its
    # configuration, sandbox and model client) loads once the screen shows.
    from llmx.cli.tui.door import Door
    from llmx.events.lines import RolloutLine
    from llmx.events.primitives import ImageInput, UserInput
    from llmx.projections.transcript_pages import TranscriptPages
    from llmx.runtime import AgentThread, ThreadError, ThreadRef

# A second Ctrl-C within this many seconds on an idle composer quits.
QUIT_WINDOW_S = 2.0
# A second Esc within this many seconds on an empty composer opens backtracking.
BACKTRACK_WINDOW_S = 1.0
# The lines that tell how a rollback the user asked for went.
_ROLLBACK_OUTCOMES = frozenset({"thread_rolled_back", "error"})
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


def _seed_status(status: SessionStatus, thread: AgentThread) -> None:
    """The status line of a thread before its first turn context: its own settings."""
    settings = thread.settings
    status.thread_id = status.thread_id or thread.thread_id
    status.model = status.model or settings.model
    status.cwd = status.cwd or str(settings.cwd)
    status.approval_policy = status.approval_policy or settings.approval_policy.value
    status.sandbox = status.sandbox or sandbox_name(settings.sandbox.policy_json)
    if status.context_window is None:
        status.context_window = settings.model_context_window


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
    /* Inline (--no-alt-screen) the app is as tall as what it holds: the transcript takes
       the rows its cells need, up to a part of the terminal (the rest stays the
       terminal's scrollback). */
    LlmxApp:inline #transcript { height: auto; max-height: 60vh; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "ctrl_c", "interrupt / quit", show=False, priority=True),
        Binding("escape", "escape", "interrupt / backtrack", show=False),
        Binding("ctrl+t", "transcript", "transcript", show=False, priority=True),
        Binding("ctrl+r", "history_search", "search history", show=False),
        Binding("shift+tab", "cycle_mode", "default / plan mode", show=False, priority=True),
    ]

    def __init__(
        self,
        *,
        cwd: Path,
        pages: TranscriptPages | None = None,
        door: Door | None = None,
        start: Start | None = None,
        recall: HistoryRecall | None = None,
        show_reasoning: bool = True,
        images: Sequence[ImageInput] = (),
        heap: Heap | None = None,
    ) -> None:
        """A replay shows ``pages`` read-only; a live session opens ``start`` through
        ``door`` once the app runs. ``heap``: the collector, held off by the command
        until the first frame (a new one otherwise)."""
        # NO_COLOR: no colour at all. Textual's own answer to it turns colours into
        # greys, which are colours still; with the terminal's ANSI palette it drops them
        # (bold, dim and reverse stay).
        super().__init__(ansi_color=True if os.environ.get("NO_COLOR") else None)
        self.cwd = cwd
        self.thread: AgentThread | None = None
        self.pages = pages
        self.door = door
        self.start = start or Start.new()
        self.recall = recall or HistoryRecall(None)
        self.show_reasoning = show_reasoning
        self.read_only = door is None
        # Images given with ``-i``: they go with the first prompt.
        self.images: list[UserInput] = list(images)
        self.fold = TranscriptFold()
        self.queued: list[str] = []
        self.notes: list[str] = []
        # Settings the user chose for the next turns (``/model``, ``/permissions``): sent
        # with each prompt, as Codex's user_turn carries them.
        self.turn_model: str | None = None
        self.turn_permissions: tuple[str, str] | None = None
        # The collaboration mode chosen with Shift+Tab ("default" or "plan"), sent with
        # the next prompt when the thread is in the other one; None: the thread's own.
        self.turn_mode: str | None = None
        # Why the session could not start, or could not be saved (said by the command as
        # one error line when the app ends, which then exits with status 1).
        self.failure: ThreadError | OSError | None = None
        # The last prompt submitted as a turn, with its images: put back in the composer
        # if its thread stops before anything of it was saved.
        self._last_prompt: tuple[str, list[UserInput]] | None = None
        self._shown_requests: set[str] = set()
        self._shown_questions: set[str] = set()
        self._asking = False
        self._last_ctrl_c = 0.0
        self._last_escape = 0.0
        # The workspace's files for ``@``, listed in the background once the session is open.
        self.files = FileIndex(cwd)
        # The prompt of a backtrack waiting for its rollback, put in the composer then.
        self._backtrack_prompt: str | None = None
        self._popup_kind = ""
        self._popup_items: list[str] = []
        self._listener: asyncio.Task[None] | None = None
        self._turn_started_at: float | None = None
        self.lines_seen = 0
        self._chrome_ready = False
        # The thread the command line asked for is being opened (or resumed).
        self._opening = False
        self._chrome_timer: Timer | None = None
        self._shown_chrome: dict[str, tuple[object, ...]] = {}
        self._view: TranscriptView | None = None
        self.heap = heap or Heap()
        self._last_key_at = 0.0
        # The thread the user quit from (the exit's summary names it).
        self.quit_from: AgentThread | None = None

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
        # Kept once found: the inline mode prints its cells after the app has ended,
        # when the screen holds no widgets any more.
        if self._view is None:
            self._view = self.query_one("#transcript", TranscriptView)
        return self._view

    @property
    def composer(self) -> Composer:
        return self.query_one("#composer", Composer)

    async def on_mount(self) -> None:
        composer = self.composer
        self._chrome_ready = True
        if self.read_only:
            self._show(None, self.pages)
            composer.disabled = True
            composer.display = False
        else:
            composer.focus()
            self._opening = self.start.kind is not StartKind.PICK
            self._refresh_chrome()
        self.set_interval(1.0, self._tick)

    def on_ready(self) -> None:
        """The first frame is on the screen: now the session is opened. The composer
        took keys from that frame on (a prompt sent meanwhile waits in the queue); the
        runtime's imports, configuration and model client are paid for after it."""
        self.heap.release()
        if not self.read_only:
            self.run_worker(self._begin(), group="open")

    # -- the thread --------------------------------------------------------------------

    async def _begin(self) -> None:
        """Open what the command line asked for (on this event loop: the door's manager
        and the thread's tasks belong to it)."""
        from llmx.runtime import ThreadError

        assert self.door is not None
        self.recall.open()
        self.door.on_warning = self.note
        start = self.start
        if start.kind is StartKind.PICK:
            self.open_picker(all_folders=start.all_folders, first=True)
            return
        try:
            ref = start.ref()
            if ref is None:
                self._show(await self.door.new(), None)
            else:
                await self._resume_shown_first(ref)
        except ThreadError as exc:
            self.failure = exc
            self.exit(1)
        finally:
            self._opening = False
            self._refresh_chrome()
            self.heap.settle()
            if self.failure is None and in_git_repository(self.cwd):
                self._start_file_index()

    async def _resume_shown_first(self, ref: ThreadRef) -> None:
        """Resume ``ref``, showing its recorded transcript (the newest page) while the
        runtime folds the whole file back into the model's context: the page is read
        once the thread holds the file's writer lock, so the live lines continue it
        exactly."""
        from llmx.projections.transcript_pages import TranscriptPages

        assert self.door is not None

        def found(path: Path) -> None:
            self._show_pages(TranscriptPages(path), finished=False)

        self._follow_thread(await self.door.resume(ref, found))

    def open_picker(self, *, all_folders: bool = False, first: bool = False) -> None:
        """The resume picker; at start-up Esc there opens a new session instead."""
        from llmx.cli.tui.resume_picker import ResumePicker

        assert self.door is not None
        home = self.door.manager.home

        def chosen(path: Path | None) -> None:
            if path is not None:
                from llmx.runtime import ThreadRef

                self.run_worker(self.switch_to_ref(ThreadRef.by_path(path)), group="submit")
            elif first:
                self.run_worker(self.switch_to_new(), group="submit")

        self.push_screen(ResumePicker(home, self.cwd, all_folders=all_folders,
                                      escape_says="new" if first else "back"), chosen)

    def _pages_of(self, thread: AgentThread) -> TranscriptPages | None:
        from llmx.projections.transcript_pages import TranscriptPages

        path = thread.rollout_path
        if path is None or not path.exists():
            return None
        return TranscriptPages(path)

    def _show(self, thread: AgentThread | None, pages: TranscriptPages | None) -> None:
        """Show ``thread``: its recorded transcript folded from ``pages`` (the newest page;
        earlier ones as the reader scrolls up), then every line it publishes from now."""
        self._show_pages(pages, finished=thread is None)
        if thread is not None:
            self._follow_thread(thread)

    def _show_pages(self, pages: TranscriptPages | None, *, finished: bool) -> None:
        """The recorded transcript of ``pages``; ``finished`` when no thread continues it
        (a replay)."""
        self.pages = pages
        self.fold = pages.newest() if pages is not None else TranscriptFold()
        self.fold.take_dirty_from()
        if finished:
            self.fold.finish()
        for problem in pages.problems if pages is not None else []:
            self.notes.append(problem)
        view = self.view
        view.show(self.fold.cells)
        view.on_reached_top = self._earlier_page if pages is not None else None
        self._shown_requests = set(self.fold.pending)
        self._refresh_chrome()

    def _follow_thread(self, thread: AgentThread) -> None:
        """Continue the transcript with every line ``thread`` publishes from now."""
        self.thread = thread
        _seed_status(self.fold.status, thread)
        if not thread.turn_running:
            # A recorded turn without its end (the session was cut off mid-turn) is over:
            # not shown working, and a prompt goes at once instead of waiting for it.
            self.fold.close_open_turn()
        # Subscribed now, before anything is submitted: no line is missed.
        events = thread.subscribe()
        self._listener = asyncio.get_running_loop().create_task(self._listen(thread, events))
        self._refresh_chrome()
        self._ask_pending()
        if self.queued and not self.busy:
            self._send_queued()

    def _earlier_page(self) -> list[tc.Cell]:
        if self.pages is None or not self.pages.has_earlier:
            return []
        return self.pages.earlier()

    async def _listen(self, thread: AgentThread, events: AsyncIterator[RolloutLine]) -> None:
        async for line in events:
            self.feed(line)
        if thread.failure is not None:
            # In a worker: leaving the thread waits for this listener to end.
            self.run_worker(self._after_failure(thread), group="submit")

    async def _after_failure(self, thread: AgentThread) -> None:
        """``thread`` was stopped by an error: its rollout could not be written (a
        read-only or full disk, ``sessions`` being a file). The error is said in one
        line, as ``llmx exec`` says it. When nothing of the session was written (its
        first prompt), nothing is lost by going on: the prompt goes back into the
        composer and a new thread takes the next one, so the user can fix the disk and
        send it again, or leave (the error is said again then, and the exit status is
        1). When the session has a file, that file holds what was acknowledged, and the
        app ends with the error; the session can be resumed once the disk takes writes."""
        from llmx.cli.thread_errors import thread_error
        from llmx.runtime import ThreadError

        if self.thread is not thread:
            return  # left meanwhile (its error kept by _leave_thread)
        # Raises an error that is not the file system's: a fault of llmx, which its
        # traceback tells.
        await self._leave_thread()
        failure = thread.failure
        assert isinstance(failure, OSError)
        path = thread.rollout_path
        if path is not None and path.exists():
            self.exit(1)
            return
        self.note(str(thread_error(failure)))
        self._turn_started_at = None
        if self._last_prompt is not None:
            text, images = self._last_prompt
            self._last_prompt = None
            self._put_back(text, images)
            self.note("the prompt was not saved, nor answered: it is back in the composer")
        assert self.door is not None
        try:
            fresh = await self.door.new()
        except ThreadError as exc:
            self.failure = exc
            self.exit(1)
            return
        # Prompts typed meanwhile wait for the one put back (sent after its turn).
        queued, self.queued = self.queued, []
        self._show(fresh, None)
        self.queued = queued
        self._refresh_chrome()

    def _put_back(self, text: str, images: list[UserInput]) -> None:
        """A prompt that was not sent, into the composer (before what is typed there)."""
        typed = self.composer.text
        self.composer.set_text(f"{text}\n{typed}" if typed else text)
        self.images = [*images, *self.images]

    def feed(self, line: RolloutLine) -> None:
        """One line the thread published: fold it and show what changed (the transcript
        and the status are drawn at most once a frame; a turn starting or ending at
        once)."""
        self.lines_seen += 1
        if line.payload_type in _ROLLBACK_OUTCOMES:
            self._on_rollback_line(line)
        was_running = self.fold.status.turn_running
        self.fold.feed_line(line)
        self.view.changed_from(self.fold.take_dirty_from())
        running = self.fold.status.turn_running
        if running and not was_running:
            self._turn_started_at = time.monotonic()
        if was_running and not running:
            self._turn_started_at = None
            # Answered (or failed and said so): not a prompt to put back any more.
            self._last_prompt = None
            self.heap.full_pass()
            self._saved_again()
            self._send_queued()
        self._ask_pending()
        if running != was_running:
            self._refresh_chrome()
        elif self._chrome_timer is None:
            self._chrome_timer = self.set_timer(FRAME_S, self._refresh_chrome)

    def _saved_again(self) -> None:
        """A turn ended on a thread whose file is there: a write failure said earlier
        (see _after_failure) is over, and leaving is no longer an error."""
        thread = self.thread
        if isinstance(self.failure, OSError) and thread is not None \
                and thread.rollout_path is not None and thread.rollout_path.exists():
            self.failure = None

    @property
    def busy(self) -> bool:
        """A turn runs, or a submitted one waits to start."""
        if self.thread is not None and self.thread.turn_running:
            return True
        return self.fold.status.turn_running

    @property
    def interruptible(self) -> bool:
        """The thread has a turn an interrupt would stop: one running, or submitted and
        waiting to start. Not the same as ``busy``: the screen may still show a turn the
        thread has just ended (its last lines not folded yet), and an interrupt then would
        stop nothing but be kept for the next prompt, which it would abort."""
        return not self.read_only and self.thread is not None and self.thread.turn_running

    def _ask_pending(self) -> None:
        # A request answered is forgotten: the same call may ask again (a retry without
        # the sandbox after a denial).
        self._shown_requests &= set(self.fold.pending)
        self._shown_questions &= set(self.fold.questions)
        if self._asking or self.read_only:
            return
        for call_id, request in self.fold.pending.items():
            if call_id in self._shown_requests:
                continue
            self._shown_requests.add(call_id)
            if request.form is not None:
                self._ask_form(request)
                return
            self._asking = True
            from llmx.cli.tui.approval_screen import ApprovalScreen

            self.push_screen(ApprovalScreen(request), self._answer_for(request))
            return
        for turn_id, asked in self.fold.questions.items():
            if turn_id in self._shown_questions:
                continue
            self._shown_questions.add(turn_id)
            self._asking = True
            from llmx.cli.tui.question_screen import QuestionScreen

            self.push_screen(QuestionScreen(asked), self._answers_for(turn_id))
            return

    def _answers_for(self, turn_id: str) -> Callable[[dict[str, list[str]] | None], None]:
        def answered(answers: dict[str, list[str]] | None) -> None:
            self._asking = False
            self._reply(turn_id, answers)

        return answered

    @work(exclusive=False, group="submit")
    async def _reply(self, turn_id: str, answers: dict[str, list[str]] | None) -> None:
        """The user's answers to the model's questions (logged with the user as the one
        who answered before the model reads them); None stops the turn, as Esc does."""
        if answers is None:
            await self.submit(Interrupt())
        else:
            await self.submit(UserInputAnswer(id=turn_id, response={"answers": {
                qid: {"answers": given} for qid, given in answers.items()}}))
        self._ask_pending()

    def _ask_form(self, request: PendingApproval) -> None:
        """An MCP server's form, field by field; a form the TUI cannot ask (a field of
        no primitive type) is cancelled, and the user told why."""
        from llmx.runtime.mcp.forms import FormError, form_fields

        try:
            fields = form_fields(request.form)
        except FormError as exc:
            self.note(f"{request.server} asked for a form that cannot be filled in here "
                      f"({exc}); cancelled")
            self._fill(request, None, cancel=True)
            return
        self._asking = True
        from llmx.cli.tui.form_screen import FormScreen

        def filled(content: dict[str, Any] | None) -> None:
            self._asking = False
            self._fill(request, content)

        self.push_screen(FormScreen(request, fields), filled)

    @work(exclusive=False, group="submit")
    async def _fill(self, request: PendingApproval, content: dict[str, Any] | None,
                    *, cancel: bool = False) -> None:
        """The filled-in form (accepted with its content), or None: declined (Esc), or
        cancelled when it could not be asked; logged as the user's answer."""
        if content is None:
            op = ResolveElicitation(server_name=request.server, request_id=request.call_id,
                                    decision="cancel" if cancel else "decline")
        else:
            op = ResolveElicitation(server_name=request.server, request_id=request.call_id,
                                    decision="accept", content=content)
        await self.submit(op)
        self._ask_pending()

    def _answer_for(self, request: PendingApproval) -> Callable[[ReviewDecision | None], None]:
        def answered(decision: ReviewDecision | None) -> None:
            self._asking = False
            self._decide(request, decision or ReviewDecision.ABORT)

        return answered

    @work(exclusive=False, group="submit")
    async def _decide(self, request: PendingApproval, decision: ReviewDecision) -> None:
        # The person at the keyboard decided (the default ``decided_by``): the runtime
        # logs the decision with that before the waiting tool call acts on it.
        await self.submit(decision_op(request, decision))
        self._ask_pending()

    async def submit(self, op: Op) -> bool:
        """Submit ``op`` to the thread (logged before it acts); False when it could not
        be (no thread, or the thread is gone), which the user is told."""
        if self.thread is None:
            return False
        from llmx.runtime import ThreadError

        try:
            await self.thread.submit(op)
        except ThreadError as exc:
            from llmx.cli.thread_errors import thread_error

            self.note(str(thread_error(exc)))
            return False
        # A submitted turn is shown working from now on, not from its first line: what
        # Ctrl-C and Esc do is what the screen says.
        self._refresh_chrome()
        return True

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
        if self.busy or self.thread is None:
            # Sent when the running turn ends (or once the thread is open), in order.
            self.queued.append(text)
            self._refresh_chrome()
            return
        await self.send_prompt(text)

    async def send_prompt(self, text: str) -> None:
        if text.startswith("!") and len(text) > 1:
            # Runs as the thread's commands do: its sandbox, its approval policy.
            await self.submit(RunUserShellCommand(command=text[1:].strip()))
            return
        if self.thread is None:
            return
        images, self.images = self.images, []
        if await self.submit(self.turn_op([*images, TextInput(text=text)])):
            self._last_prompt = (text, images)
        else:
            # Not logged (a full disk): nothing of it happened, and nothing is lost.
            self._put_back(text, images)

    def turn_op(self, items: list[UserInput]) -> UserTurn:
        """A ``user_turn`` with the thread's settings, changed by ``/model`` and
        ``/permissions``: per-turn settings, as Codex's TUI sends them."""
        assert self.thread is not None
        op = self.thread.user_turn(items)
        if self.turn_model is not None:
            op.model = self.turn_model
        if self.turn_permissions is not None:
            mode, policy = self.turn_permissions
            op.approval_policy = policy
            if sandbox_name(op.sandbox_policy) != mode:
                op.sandbox_policy = {"type": mode}
        if self.turn_mode is not None and self.turn_mode != self.thread_mode():
            from llmx.runtime.collaboration import switch_to

            op.collaboration_mode = switch_to(self.turn_mode)
        return op

    def thread_mode(self) -> str:
        """The collaboration mode the thread's turns run in now."""
        if self.thread is not None:
            return self.thread.settings.collaboration.mode
        return self.fold.status.collaboration_mode or "default"

    def action_cycle_mode(self) -> None:
        """Shift+Tab: Plan mode for the next prompts, or back to Default (as Codex's TUI
        cycles them); the mode goes with the next prompt."""
        if self.read_only or self.screen is not self.screen_stack[0]:
            return
        current = self.turn_mode or self.thread_mode()
        self.turn_mode = "default" if current == "plan" else "plan"
        self._refresh_chrome()

    def _send_queued(self) -> None:
        if self.queued and self.thread is not None:
            text = self.queued.pop(0)
            self.run_worker(self.send_prompt(text), group="submit")
            self._refresh_chrome()

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
            self._start_file_index()
            found = self.files.search(mention[1])
            if found is None:  # still listing: the popup fills when the list is ready
                self._open_popup("mention", [""], ["listing the workspace's files…"])
            else:
                self._open_popup("mention", found, found)
            return
        self._close_popup()

    def _start_file_index(self) -> None:
        def ready() -> None:
            # From the listing thread: only a popup waiting for the list needs it now.
            if self._popup_kind == "mention" and self.is_running:
                with contextlib.suppress(RuntimeError):  # the app has ended meanwhile
                    self.call_from_thread(self._files_listed)

        self.files.start(ready)

    def _files_listed(self) -> None:
        if self._popup_kind == "mention":
            self.on_text_area_changed(Composer.Changed(self.composer))

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
        if not value:  # the files are still being listed
            return
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
            from llmx.cli.tui.resume_picker import ResumePicker

            if isinstance(self.screen, ResumePicker):  # Ctrl-C in the picker quits, as in Codex
                self.pop_screen()
                await self.quit_session()
            return
        if self.interruptible:
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
        if self.interruptible:
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
            if back is None:
                return
            patched = self._patched_since(back)
            if not patched:
                self.run_worker(self.backtrack(back, prompts[-back]), group="submit")
                return

            def revert_chosen(revert: bool | None) -> None:
                if revert is not None:
                    self.run_worker(self.backtrack(back, prompts[-back], revert_files=revert),
                                    group="submit")

            from llmx.cli.tui.overlay_screen import RevertFilesScreen

            self.push_screen(RevertFilesScreen(back, patched), revert_chosen)

        from llmx.cli.tui.overlay_screen import BacktrackScreen

        self.push_screen(BacktrackScreen(prompts), chosen)

    def _patched_since(self, back: int) -> list[str]:
        """The files the patches of the last ``back`` prompts' turns wrote, as shown."""
        users = [index for index, cell in enumerate(self.view.cells)
                 if isinstance(cell, tc.UserCell)]
        if len(users) < back:
            return []
        paths: list[str] = []
        for cell in self.view.cells[users[-back]:]:
            if isinstance(cell, tc.PatchCell) and cell.status == "completed":
                for change in cell.changes:
                    if change.path not in paths:
                        paths.append(change.path)
        return paths

    async def backtrack(self, back: int, prompt: str, *, revert_files: bool = False) -> None:
        """Roll the thread back to before the ``back``-th last prompt and put that prompt
        in the composer to be edited: a ``thread_rollback`` submission of ``back`` turns
        (asking, with ``revert_files``, for those turns' patches to be undone), which the
        runtime records as Codex does (``thread_rolled_back``); the transcript drops those
        turns when that line comes back on the stream, and the prompt goes into the
        composer then. A refusal (a file changed since its patch) is shown as a note."""
        if self.busy:
            self.note("going back: a turn is running — interrupt it (esc) first")
            return
        self._backtrack_prompt = prompt
        if not await self.submit(ThreadRollback(num_turns=back, revert_files=revert_files)):
            self._backtrack_prompt = None

    def _on_rollback_line(self, line: RolloutLine) -> None:
        """The outcome of a backtrack the user asked for: the prompt to edit, or why
        nothing happened. (What was reverted, the transcript's rollback line says.)"""
        payload = line.item()
        if isinstance(payload, ThreadRolledBack):
            if self._backtrack_prompt is not None:
                self.composer.set_text(self._backtrack_prompt)
            self._backtrack_prompt = None
        elif isinstance(payload, ErrorEvent) and \
                payload.codex_error_info == "thread_rollback_failed":
            self._backtrack_prompt = None
            self.note(f"going back: {payload.message}")

    def action_transcript(self) -> None:
        from llmx.cli.tui.overlay_screen import TranscriptOverlay

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
        """Leave: the running turn is interrupted (a submission), the thread and the door
        closed; the session can be resumed."""
        self.quit_from = self.thread
        await self._leave_thread()
        if self.door is not None:
            await self.door.close()
        self.exit(0)

    async def _leave_thread(self) -> None:
        thread = self.thread
        if thread is None:
            return
        if thread.turn_running and not thread.closed:
            await self.submit(Interrupt())
        # Closing ends the subscription once the shutdown is logged: every line the
        # thread wrote has been folded when this returns.
        try:
            await thread.close()
        except OSError as exc:
            if thread.failure is not exc:
                raise
            # The error that stopped the thread, said by _after_failure, or when the app
            # ends if it ends first.
            self.failure = exc
        if self._listener is not None:
            await self._listener
            self._listener = None
        self.thread = None

    # -- slash commands ----------------------------------------------------------------

    async def run_slash(self, name: str, argument: str) -> None:
        from llmx.cli.tui.slash_actions import run_slash_command

        await run_slash_command(self, name, argument)

    async def switch_to_new(self) -> None:
        """``/new`` (and Esc in the start-up picker): a new thread in the cwd."""
        assert self.door is not None
        await self._switch(self.door.new)

    async def switch_to_ref(self, ref: ThreadRef) -> None:
        """``/resume``: the recorded thread ``ref``, its transcript and then live."""
        assert self.door is not None
        door = self.door

        async def resume() -> AgentThread:
            return await door.resume(ref)

        await self._switch(resume, pages=True)

    async def switch_to_fork(self) -> None:
        """``/fork``: a new thread continuing this one's history (the door writes the fork
        as Codex does); the transcript shows the parent's turns, then the fork. With more
        than one prompt, a picker first: the fork keeps the history through the chosen
        prompt's turn (the last one, the whole thread, is preselected)."""
        assert self.thread is not None
        parent = self.thread
        if parent.rollout_path is None or not parent.rollout_path.exists():
            self.note("/fork: nothing to fork yet — send a prompt first")
            return
        if self.busy:
            self.note("/fork: a turn is running — interrupt it (esc) or wait, then fork")
            return
        users = [cell for cell in self.view.cells if isinstance(cell, tc.UserCell)]
        if len(users) < 2 or not all(cell.turn_id for cell in users):
            await self.fork_through(None)
            return

        def chosen(back: int | None) -> None:
            if back is not None:
                through = None if back == 1 else users[-back].turn_id
                self.run_worker(self.fork_through(through), group="submit")

        from llmx.cli.tui.overlay_screen import BacktrackScreen

        self.push_screen(BacktrackScreen(
            [cell.text for cell in users],
            keys="Fork through which prompt's turn · ←→ prompts · ↵ fork · esc back"),
            chosen)

    async def fork_through(self, turn_id: str | None) -> None:
        """Fork the thread: all of it, or through the turn ``turn_id``."""
        from llmx.runtime import ThreadError, ThreadRef

        assert self.door is not None
        door, parent = self.door, self.thread
        if parent is None or parent.rollout_path is None:
            return
        try:
            forked = await door.fork(ThreadRef.by_path(parent.rollout_path),
                                     through_turn_id=turn_id)
        except ThreadError as exc:
            self.note(f"/fork: {exc.what}")
            return
        await self._leave_thread()
        self._show(forked, self._pages_of(forked))

    async def _switch(self, opening: Callable[[], Awaitable[AgentThread]], *,
                      pages: bool = False) -> None:
        from llmx.runtime import ThreadError

        # The current thread is closed first: resuming it again needs its writer lock.
        await self._leave_thread()
        self.queued.clear()
        # The notes were about the thread left; the next one's come as it opens.
        self.notes.clear()
        try:
            thread = await opening()
        except ThreadError as exc:
            self.note(f"{exc.what} — {exc.todo}" if exc.todo else exc.what)
            if self.thread is None:
                # Somewhere to type again: a new thread, as at start-up.
                assert self.door is not None
                try:
                    thread = await self.door.new()
                except ThreadError as again:
                    self.failure = again
                    self.exit(1)
                    return
                self._show(thread, None)
            return
        self._show(thread, self._pages_of(thread) if pages else None)

    def show_page(self, title: str, body: Text) -> None:
        from llmx.cli.tui.overlay_screen import TextPage

        self.push_screen(TextPage(title, body))

    def note(self, text: str) -> None:
        """A line for the user that is not part of the session (shown above the composer)."""
        self.notes.append(text)
        self._refresh_chrome()

    # -- chrome ------------------------------------------------------------------------

    def _tick(self) -> None:
        if self._turn_started_at is not None:
            self._refresh_chrome()
            if self.heap.full_pass_due(quiet_for=time.monotonic() - self._last_key_at):
                self.heap.full_pass()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self._last_key_at = time.monotonic()
        await super().on_event(event)

    def on_unmount(self) -> None:
        self.heap.restore()

    def _refresh_chrome(self) -> None:
        if self._chrome_timer is not None:
            self._chrome_timer.stop()
            self._chrome_timer = None
        if not self._chrome_ready:
            return
        activity = Text()
        if self._opening:
            doing = "Resuming" if self.start.kind is StartKind.RESUME else "Opening"
            activity.append(f"◦ {doing} the session…", style="cyan")
        elif self.busy:
            seconds = 0 if self._turn_started_at is None else int(
                time.monotonic() - self._turn_started_at)
            activity.append(f"◦ Working ({seconds}s • esc to interrupt)", style="cyan")
        for text in self.queued:
            activity.append(("\n" if activity else "") + f"↳ queued: {text.splitlines()[0]}",
                            style="dim")
        for text in self.notes[-2:]:
            activity.append(("\n" if activity else "") + text, style="yellow")
        self._update("#activity", activity)
        status = self.fold.status
        if self.thread is None and not status.model and not self.read_only:
            # Nothing is known of the session's settings before it is open.
            self._update("#status", Text(""))
        else:
            self._update("#status", status_text(self.next_turn_status(),
                                                fallback_cwd=str(self.cwd)))
        hint = "replay (read-only) · ctrl+t transcript · esc or ctrl+c quit" if self.read_only \
            else "/ commands · @ files · ! shell · ctrl+r history · ctrl+t transcript"
        if not self.read_only and (self.turn_mode or self.thread_mode()) == "plan":
            hint = "Plan mode (shift+tab to cycle) · " + hint
        if time.monotonic() - self._last_ctrl_c <= QUIT_WINDOW_S:
            hint = "press ctrl+c again to quit"
        elif time.monotonic() - self._last_escape <= BACKTRACK_WINDOW_S:
            hint = "press esc again to edit a previous message"
        self._update("#hint", Text(hint, style="dim"))

    def next_turn_status(self) -> SessionStatus:
        """The session's status with the model and permissions chosen by ``/model`` and
        ``/permissions``: they take effect with the next prompt (its user_turn carries
        them), and the status line and ``/status`` say what that prompt will run with, as
        Codex's do from the moment of the choice. The log states them at that turn's
        start."""
        status = self.fold.status
        thread = self.thread
        if thread is None and self.turn_model is None and self.turn_permissions is None:
            return status
        chosen = copy.copy(status)
        if thread is not None:
            # The thread's own settings, not the last recorded turn's: a resumed thread
            # runs with the flags it was resumed with (and keeps each turn's choices).
            settings = thread.settings
            chosen.model = settings.model
            chosen.approval_policy = settings.approval_policy.value
            chosen.sandbox = sandbox_name(settings.sandbox.policy_json)
        if self.turn_model is not None:
            chosen.model = self.turn_model
        if self.turn_permissions is not None:
            chosen.sandbox, chosen.approval_policy = self.turn_permissions
        return chosen

    def _update(self, selector: str, text: Text) -> None:
        """Show ``text`` in the line ``selector`` unless it shows it already: an update
        lays the screen out again, which a stream must not cause for nothing."""
        key = (text.plain, tuple(text.spans), str(text.style))
        if self._shown_chrome.get(selector) == key:
            return
        self._shown_chrome[selector] = key
        self.query_one(selector, Static).update(text)

    def on_key(self, event: events.Key) -> None:
        if event.key not in ("escape", "ctrl+c"):
            self._last_escape = 0.0
