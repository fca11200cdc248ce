"""``AgentThread``: one running thread, as every frontend holds it.

A frontend does three things with a thread: it submits ``Op``s (a user turn, an approval
decision, an interrupt, a compaction, a shutdown), it reads the thread's events from a
subscription, and it closes the thread. Everything it shows is a projection of what it
read; it never touches the session, the event log or the model client behind the thread.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from llmx.events.event_msgs import (
    ApplyPatchApprovalRequest,
    ElicitationRequest,
    ExecApprovalRequest,
    RequestUserInput,
)
from llmx.events.lines import RolloutLine
from llmx.events.ops import (
    ExecApproval,
    Interrupt,
    Op,
    PatchApproval,
    ResolveElicitation,
    Shutdown,
    UserInputAnswer,
    UserTurn,
)
from llmx.events.primitives import UserInput
from llmx.events.records import Approver
from llmx.runtime.models.client import ModelClient
from llmx.runtime.session import Session
from llmx.runtime.session_types import ApprovalRequest, SessionSettings
from llmx.runtime.threads.errors import ThreadError
from llmx.runtime.threads.stream import ThreadEvents

if TYPE_CHECKING:
    from llmx.events.records import RetainedVerifiedAnswer
    from llmx.projections.lineage import RolloutSpan
    from llmx.runtime.config.tables import Config

# Lines a subscriber may hold unread by default. A subscriber of a persisted thread that
# falls this far behind catches up from the file; one of an ephemeral thread ends with
# ``SubscriberLagged``, so the default is far above any burst of one turn.
DEFAULT_SUBSCRIBER_CAPACITY = 1 << 20


class ThreadOutcome(msgspec.Struct, frozen=True):
    """How the thread's turns went so far."""

    # A turn ended with an error (the model could not be reached, a refused request...).
    failed: bool = False
    # A turn was interrupted or aborted by a decision.
    aborted: bool = False
    # The last agent message of the last turn that produced one.
    last_agent_message: str | None = None


class AgentThread:
    """A thread opened, resumed or forked by a :class:`~llmx.runtime.ThreadManager`."""

    def __init__(
        self,
        session: Session,
        model: ModelClient,
        config: Config,
        *,
        meta_line: RolloutLine | None,
        inherited: Sequence[RolloutSpan] | None,
        on_closed: Callable[[AgentThread], None],
    ) -> None:
        self._session = session
        self._model = model
        self._config = config
        self._meta_line = meta_line
        # The parent spans of a fork or of a resumed fork (None: found on first use).
        self._inherited = None if inherited is None else list(inherited)
        self._read_path = session.log.path
        self._on_closed = on_closed
        self._shutdown_sent = False
        self._closed = False
        self._runner = asyncio.create_task(session.run(), name=f"thread-{self.thread_id}")

    # -- what the thread is ----------------------------------------------------------

    @property
    def thread_id(self) -> str:
        return self._session.settings.thread_id

    @property
    def settings(self) -> SessionSettings:
        """The resolved settings: model, cwd, sandbox, approval policy, instructions."""
        return self._session.settings

    @property
    def config(self) -> Config:
        """The effective configuration the thread was set up with (for display settings
        such as ``hide_agent_reasoning``)."""
        return self._config

    @property
    def rollout_path(self) -> Path | None:
        """The rollout file (None for an ephemeral thread); it appears with the first turn
        of a new thread."""
        return self._session.log.path

    @property
    def meta_line(self) -> RolloutLine | None:
        """The ``session_meta`` line of a resumed rollout, which a subscription from the
        current position does not repeat; None for a new or forked thread (its meta is
        published with its first recorded line)."""
        return self._meta_line

    @property
    def position(self) -> int:
        """The position (ordinal) the next line of the thread will have."""
        return self._session.log.next_ordinal

    @property
    def outcome(self) -> ThreadOutcome:
        session = self._session
        return ThreadOutcome(session.failed, session.aborted, session.last_agent_message)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def failure(self) -> Exception | None:
        """The error that stopped the thread, if one did: an ``OSError`` when its rollout
        could not be written (a read-only or full disk, ``sessions`` being a file...).
        Its subscriptions have ended then, and :meth:`close` raises it."""
        return self._session.error

    @property
    def turn_running(self) -> bool:
        """True while a turn runs or a submitted one waits to start."""
        return not self._runner.done() and self._session.turn_running

    def user_turn_count(self) -> int:
        """How many user turns the model's history holds now: the most a rollback drops
        (asked for more, it drops them all)."""
        return self._session.user_turn_count()

    def history_metadata(self) -> tuple[int, int]:
        """``(history_log_id, history_entry_count)`` of ``history.jsonl``, as Codex's
        ``session_configured`` reports them; ``(0, 0)`` when no history is kept."""
        return self._session.history_metadata()

    # -- submitting --------------------------------------------------------------------

    def user_turn(
        self, items: Sequence[UserInput], *, output_schema: dict[str, Any] | None = None
    ) -> UserTurn:
        """A ``user_turn`` op for ``items`` with the thread's own settings."""
        settings = self.settings
        op = UserTurn(
            items=list(items), cwd=str(settings.cwd),
            approval_policy=settings.approval_policy.value,
            sandbox_policy=settings.sandbox.policy_json, model=settings.model,
            summary=settings.reasoning_summary, final_output_json_schema=output_schema,
        )
        if settings.reasoning_effort is not None:
            op.effort = settings.reasoning_effort
        return op

    async def submit(self, op: Op, *, decided_by: Approver = Approver.USER) -> str:
        """Log ``op`` and act on it; the submission id. Decisions and interrupts take
        effect at once; turns and a shutdown wait for the running turn.

        An approval decision (``ExecApproval``/``PatchApproval`` whose ``id`` is the
        request's ``call_id``), or the answer to the model's questions
        (``UserInputAnswer`` naming the turn), is written with ``decided_by`` before the
        waiting tool call acts on it.
        """
        # While it shuts down, the running turn may still wait for a decision or be
        # interrupted; nothing new starts.
        answers_the_turn = isinstance(op, ExecApproval | PatchApproval | ResolveElicitation
                                      | UserInputAnswer
                                      | Interrupt)
        failure = self.failure
        if isinstance(failure, OSError):
            raise self._write_error(failure)
        if self._runner.done() or (self._shutdown_sent and not answers_the_turn):
            raise ThreadError(f"thread {self.thread_id} is closed",
                              "open or resume it again to continue")
        if isinstance(op, Shutdown):
            self._shutdown_sent = True
        try:
            return await self._session.submit(op, decided_by=decided_by)
        except OSError as exc:
            # The submission could not be logged (a full disk), so it was not acted on;
            # the thread goes on, its log as it was before the batch that failed.
            raise self._write_error(exc) from None

    def _write_error(self, exc: OSError) -> ThreadError:
        path = Path(exc.filename) if exc.filename else self.rollout_path
        return ThreadError(f"cannot write {path}: {exc.strerror or exc}", cause=exc, path=path,
                           doing="cannot write")

    # -- reading -----------------------------------------------------------------------

    def subscribe(
        self, *, from_position: int | None = None, capacity: int | None = None
    ) -> ThreadEvents:
        """The thread's lines in the order of its rollout, until it closes.

        ``from_position`` None: from now on. A position (a line ordinal; 0 is the start,
        which for a fork is the start of its parent's history): the recorded lines from
        there, then the live ones, without a gap or a duplicate at the handoff. Deltas
        (streamed text) are published live but, unless configured, not recorded, so a
        subscription gets only those published after it was made.
        """
        log = self._session.log
        if from_position is not None and self._read_path is None and log.materialized:
            raise ThreadError(
                f"thread {self.thread_id} is ephemeral: the lines it already published "
                "were not kept, so they cannot be read from an earlier position",
                "subscribe before the first turn, or run it without ephemeral",
            )
        return ThreadEvents(log, self._spans_now, from_position,
                            capacity or DEFAULT_SUBSCRIBER_CAPACITY)

    def verified_answers(self) -> list[RetainedVerifiedAnswer]:
        """The user's answers to the model's questions that the thread keeps (Codex's
        retained ``verified_answer`` facts), oldest first: folded from its files, so a
        resumed thread (or a fork) has those of the runs before it, minus the turns rolled
        back. Like Codex, llmx sends the model these only as the questions' outputs."""
        from llmx.projections.turn_patches import verified_answers

        return verified_answers(self._spans_now())

    def _spans_now(self) -> list[RolloutSpan]:
        """The files holding the thread's lines, the own one measured now."""
        from llmx.projections.lineage import RolloutSpan

        spans = list(self._inherited_spans())
        path = self._read_path
        if path is not None:
            try:
                size = os.stat(path).st_size
            except FileNotFoundError:
                size = 0  # a new thread's file appears with its first turn
            if size:
                spans.append(RolloutSpan(path, size, inherited=False))
        return spans

    def _inherited_spans(self) -> list[RolloutSpan]:
        if self._inherited is None:
            path = self._read_path
            self._inherited = []
            if path is not None and path.exists():
                from llmx.projections.lineage import resolve_lineage

                # The parents a resumed fork continues (a plain rollout has none).
                self._inherited = resolve_lineage(path)[:-1]
        return self._inherited

    # -- answering approvals -------------------------------------------------------

    @staticmethod
    def approval_request(line: RolloutLine) -> ApprovalRequest | None:
        """The approval request ``line`` carries, if it is one; answer it with
        ``submit(ExecApproval(id=request.call_id, ...))`` or ``PatchApproval``, and a
        question of an MCP server (an ``ElicitationRequest``, such as the approval of one
        of its tools) with ``ResolveElicitation(request_id=request.id, ...)``."""
        if line.payload_type not in ("exec_approval_request", "apply_patch_approval_request",
                                     "elicitation_request"):
            return None
        item = line.item()
        return item if isinstance(
            item, ExecApprovalRequest | ApplyPatchApprovalRequest | ElicitationRequest
        ) else None

    @staticmethod
    def user_input_request(line: RolloutLine) -> RequestUserInput | None:
        """The model's questions ``line`` carries, if it does (Plan mode only); answer
        with ``submit(UserInputAnswer(id=request.turn_id, response={"answers": ...}))``."""
        if line.payload_type != "request_user_input":
            return None
        item = line.item()
        return item if isinstance(item, RequestUserInput) else None

    # -- closing -----------------------------------------------------------------------

    async def close(self) -> None:
        """Shut the thread down after its running turn (submit an ``Interrupt`` first to
        cut that turn short), close its log (every subscription then ends) and its model
        client. Idempotent."""
        if self._closed:
            return
        try:
            if not self._shutdown_sent and not self._runner.done():
                self._shutdown_sent = True
                await self._session.submit(Shutdown())
            await self._runner
        finally:
            self._closed = True
            try:
                if self.settings.mcp is not None:
                    await self.settings.mcp.close()
                await self._model.aclose()
                # Ends every subscription, also when the run stopped on an error.
                await self._session.log.close()
            finally:
                self._on_closed(self)


class RevertFailed(ThreadError):
    """A revert failed after the thread had stopped: ``thread`` is the thread reopened as
    it was before (its history unchanged), for the frontend to go on with."""

    def __init__(self, cause: ThreadError, thread: AgentThread) -> None:
        super().__init__(cause.what, cause.todo, cause=cause.cause, path=cause.path,
                         doing=cause.doing)
        self.thread = thread
