"""Who answers ``exec``'s approval requests, and how each answer is put on record.

In order: the answers given in advance with ``--approval-decision`` (recorded as decided
by ``preset``); then, when stdin and stderr are a terminal, the person at it, asked the
way Codex's interactive prompt asks (``user``); otherwise nobody can be asked, and the
request is denied (``unattended``), saying once on stderr how to decide in advance.

A question the turn stops waiting for (an interrupt, the turn ended) is withdrawn: its
prompt goes away unanswered.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import termios
import tty
from collections.abc import Iterator
from typing import TYPE_CHECKING, TextIO

from llmx.cli.errors import warn
from llmx.events.event_msgs import ElicitationRequest, ExecApprovalRequest
from llmx.events.ops import ExecApproval, PatchApproval, ResolveElicitation, ReviewDecision
from llmx.events.records import Approver
from llmx.projections.shell_escape import join_command
from llmx.runtime.mcp.forms import has_fields

if TYPE_CHECKING:
    from llmx.runtime import AgentThread
    from llmx.runtime.session_types import ApprovalRequest

# The flag that answers in advance, as the notice names it.
DECIDE_IN_ADVANCE = (
    "answer in advance with --approval-decision approved|approved_for_session|denied|abort "
    "(repeatable, one per request), or run exec on a terminal to be asked"
)
# The keys of the prompt and what each one answers; Esc also aborts.
_KEYS = {
    "y": ReviewDecision.APPROVED,
    "a": ReviewDecision.APPROVED_FOR_SESSION,
    "n": ReviewDecision.DENIED,
    "\x1b": ReviewDecision.ABORT,
}
_CHOICES = (
    "[y] yes, once   [a] yes, and don't ask again this session   [n] no   "
    "[esc] no, and stop the turn"
)
_SAID = {
    ReviewDecision.APPROVED: "approved once",
    ReviewDecision.APPROVED_FOR_SESSION: "approved for this session",
    ReviewDecision.DENIED: "denied",
    ReviewDecision.ABORT: "denied; stopping the turn",
}


def on_terminal() -> bool:
    """Whether exec can ask: stdin to read the key from, stderr to show the question on."""
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except ValueError:  # a closed stream
        return False


class ExecApprover:
    """Answers the approval requests of one exec run."""

    def __init__(self, presets: list[ReviewDecision], *, interactive: bool,
                 show_request: bool) -> None:
        self._presets = list(presets)
        self._interactive = interactive
        # Whether the prompt shows the request itself (``--json``: the human output that
        # would have shown it goes nowhere).
        self._show_request = show_request
        self._told_unattended = False
        self._pending: asyncio.Task[None] | None = None

    async def start(self, thread: AgentThread, request: ApprovalRequest) -> None:
        """Answer ``request`` (in a task of its own: the event stream goes on meanwhile)."""
        await self.withdraw()
        self._pending = asyncio.get_running_loop().create_task(self._answer(thread, request))

    async def withdraw(self) -> None:
        """The turn no longer waits for an answer: drop the open question, if any, and
        return once its prompt is gone (the terminal restored)."""
        pending, self._pending = self._pending, None
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pending

    async def _answer(self, thread: AgentThread, request: ApprovalRequest) -> None:
        if isinstance(request, ElicitationRequest) and has_fields(request.schema()):
            # A form to fill in: exec cancels it, as Codex's exec does, asking nobody
            # (an answer given in advance is an approval's, not a form's).
            warn("exec", f"MCP server `{request.server_name}` asked for a form "
                 f"({request.text()}): auto-cancelling (not supported in exec mode; the TUI "
                 "or an app-server client can fill it in)")
            await thread.submit(ResolveElicitation(
                server_name=request.server_name, request_id=request.id, decision="cancel",
            ), decided_by=Approver.UNATTENDED)
            return
        if self._presets:
            decision, by = self._presets.pop(0), Approver.PRESET
        elif self._interactive:
            decision, by = await ask_on_terminal(request, show_request=self._show_request)
        else:
            decision, by = ReviewDecision.DENIED, Approver.UNATTENDED
            if not self._told_unattended:
                self._told_unattended = True
                warn("exec", "an approval was requested and nobody can be asked (stdin or "
                     f"stderr is not a terminal), so it was denied — {DECIDE_IN_ADVANCE}")
        if isinstance(request, ElicitationRequest):
            # An MCP server's question (its tool's approval, or its own): only an approval
            # accepts; an abort cancels.
            answer = ("accept" if decision in (ReviewDecision.APPROVED,
                                               ReviewDecision.APPROVED_FOR_SESSION)
                      else "cancel" if decision is ReviewDecision.ABORT else "decline")
            op: ExecApproval | PatchApproval | ResolveElicitation = ResolveElicitation(
                server_name=request.server_name, request_id=request.id, decision=answer
            )
        elif isinstance(request, ExecApprovalRequest):
            op = ExecApproval(
                id=request.call_id, decision=decision.value, turn_id=request.turn_id
            )
        else:
            op = PatchApproval(id=request.call_id, decision=decision.value)
        await thread.submit(op, decided_by=by)


async def ask_on_terminal(
    request: ApprovalRequest, *, show_request: bool, stdin_fd: int | None = None,
    out: TextIO | None = None,
) -> tuple[ReviewDecision, Approver]:
    """Show the question on stderr and read one key from the terminal."""
    out = out or sys.stderr
    fd = sys.stdin.fileno() if stdin_fd is None else stdin_fd
    try:
        with _cbreak(fd):
            # Asked only once the terminal reads keys unechoed: a key typed at once is
            # neither echoed nor lost.
            out.write(question(request, show_request=show_request))
            out.flush()
            decision = await _read_key(fd)
    except asyncio.CancelledError:
        out.write("(withdrawn)\n")
        out.flush()
        raise
    except (termios.error, OSError) as exc:
        # A terminal that cannot be set up or read (gone, or not one after all): nobody
        # can answer, and the turn must not wait for ever.
        out.write(f"(the terminal cannot be read: {exc}; denied)\n")
        out.flush()
        return ReviewDecision.DENIED, Approver.UNATTENDED
    if decision is None:  # the terminal went away: nobody answered
        out.write("(no answer: denied)\n")
        out.flush()
        return ReviewDecision.DENIED, Approver.UNATTENDED
    out.write(f"{_SAID[decision]}\n")
    out.flush()
    return decision, Approver.USER


def question(request: ApprovalRequest, *, show_request: bool) -> str:
    """The prompt's text: what would happen, where, why, and the keys."""
    lines: list[str] = []
    if isinstance(request, ExecApprovalRequest):
        lines.append("Would you like to run the following command?")
        if show_request:
            if isinstance(request.reason, str):
                lines.append(f"  reason: {request.reason}")
            lines.append(f"  $ {join_command(request.command)}")
            lines.append(f"  in {request.cwd}")
    elif isinstance(request, ElicitationRequest):
        lines.append(f"The MCP server {request.server_name} asks:")
        lines.append(f"  {request.message}")
    else:
        lines.append("Would you like to make the following edits?")
        if show_request:
            if isinstance(request.reason, str):
                lines.append(f"  reason: {request.reason}")
            lines.extend(f"  {path}" for path in sorted(request.changes))
    lines.append(f"{_CHOICES}: ")
    return "\n".join(lines)


@contextlib.contextmanager
def _cbreak(fd: int) -> Iterator[None]:
    """Keys arrive one by one, unechoed; ^C still interrupts. Restored on the way out."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd, termios.TCSANOW)
        new = termios.tcgetattr(fd)
        new[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSANOW, new)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


async def _read_key(fd: int) -> ReviewDecision | None:
    """The first key that answers; None at end of input. Other keys (and escape
    sequences such as arrows, which start with Esc but come as one read) are ignored."""
    loop = asyncio.get_running_loop()
    while True:
        ready: asyncio.Future[None] = loop.create_future()
        loop.add_reader(fd, _wake, ready)
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        try:
            data = os.read(fd, 64)
        except BlockingIOError:
            continue
        if not data:
            return None
        text = data.decode("utf-8", "replace")
        if len(text) > 1 and text.startswith("\x1b"):
            continue
        for char in text:
            decision = _KEYS.get(char.lower())
            if decision is not None:
                return decision


__all__ = ["DECIDE_IN_ADVANCE", "ExecApprover", "ask_on_terminal", "on_terminal", "question"]
