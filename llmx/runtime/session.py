"""A session: one submission queue, one turn task at a time, one log.

Frontends talk to a session only through :meth:`Session.submit`. Every submission is
appended to the log (``llmx.events.event_log.EventLog``, the single writer, as our ``submission``
line) before it is acted on; approval decisions and interrupts are also synced to disk
first, so the log proves what was decided before anything happened because of it. The
session never prints: frontends render what the log publishes to its subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Coroutine, Sequence
from typing import Any

from msgspec import UNSET

from llmx.events.event_log import EventLog
from llmx.events.event_msgs import RequestUserInput, ThreadNameUpdated, WarningEvent
from llmx.events.ops import (
    Compact,
    ExecApproval,
    Interrupt,
    Op,
    PatchApproval,
    ResolveElicitation,
    ReviewDecision,
    RunUserShellCommand,
    SetThreadName,
    Shutdown,
    ThreadRollback,
    UserInputAnswer,
    UserInputOp,
    UserTurn,
    plain_decision,
)
from llmx.events.primitives import TextInput
from llmx.events.records import Approver, SubmissionRecord
from llmx.runtime.approvals import ApprovalCache
from llmx.runtime.authorship import session_meta
from llmx.runtime.collaboration import DEFAULT, mode_message
from llmx.runtime.compaction import Compaction, approx_tokens
from llmx.runtime.context_updates import ContextBaseline, context_updates
from llmx.runtime.instructions import (
    EnvironmentContext,
    user_instructions_message,
)
from llmx.runtime.models.stream import TokenUsage
from llmx.runtime.models.usage import added_usage
from llmx.runtime.notify import run_notify, turn_complete_payload
from llmx.runtime.rollback import FileRevert, roll_back, user_turn_count
from llmx.runtime.session_history import PromptHistory
from llmx.runtime.session_index_updates import SessionIndexUpdates
from llmx.runtime.session_types import (
    ApprovalRequest,
    HistoryItem,
    ModelStreamer,
    SessionSettings,
)
from llmx.runtime.tools.unified_exec import ProcessStore
from llmx.runtime.turn import Turn
from llmx.runtime.turn_host import Answer, InputReply, TurnOutcome, TurnStatus
from llmx.runtime.turn_settings import SandboxForMode, settings_for_turn
from llmx.runtime.user_shell import UserShell

__all__ = ["Session", "session_meta"]

TurnOp = UserTurn | UserInputOp


class Session:
    def __init__(
        self,
        settings: SessionSettings,
        log: EventLog,
        model: ModelStreamer,
        *,
        history: Sequence[HistoryItem] = (),
        index: SessionIndexUpdates | None = None,
        prompt_history: PromptHistory | None = None,
        token_usage: TokenUsage | None = None,
        baseline: ContextBaseline | None = None,
        sandbox_for: SandboxForMode | None = None,
    ) -> None:
        """``baseline``: the settings the model was last told of, for a thread that goes on
        from a recorded one (the newest surviving ``turn_context``)."""
        self.settings = settings
        # Resolves the sandbox of a user_turn that asks for another mode.
        self._sandbox_for = sandbox_for
        self.log = log
        self.model = model
        self._history: list[HistoryItem] = list(history)
        # A resumed session already has its initial context in the history.
        self._context_recorded = bool(history)
        # What the model was last told of the cwd, sandbox, approvals and model: a turn
        # that runs under other settings tells it what changed.
        self._baseline = baseline
        self._approvals = ApprovalCache()
        # Commands kept running past their call; killed when the session ends.
        self._processes = ProcessStore()
        # How the turns went (the thread's outcome), told by each turn as it ends.
        self.failed = False
        self.aborted = False
        self.last_agent_message: str | None = None
        # The error that stopped the session (its rollout could not be written): no turn
        # runs after it, and :meth:`run` ends with it.
        self.error: Exception | None = None
        # Submissions, and None when a turn's task ended with an error (see run).
        self._queue: asyncio.Queue[tuple[str, Op | None]] = asyncio.Queue()
        self._ids = itertools.count()
        self._turn_task: asyncio.Task[None] | None = None
        # An interrupt that came while no turn ran: the next turn starts aborted.
        self._interrupt_pending = False
        # The running turn is writing its end (see turn_ending).
        self._turn_ending = False
        self._pending: dict[str, asyncio.Future[Answer]] = {}
        # Questions (request_user_input) waiting for their answer, by the asking turn's id.
        self._asking: dict[str, asyncio.Future[InputReply]] = {}
        # The thread's running total: a resumed session continues the recorded one, so
        # ``total_token_usage`` stays cumulative across runs (and across programs).
        self._usage = token_usage or TokenUsage()
        # The session index, told after each turn (None: not kept, as for ephemeral runs).
        self._index = index
        self._indexed_ordinal: int | None = None
        # history.jsonl, told each prompt after the rollout (None: not kept, as ephemeral).
        self._prompt_history = prompt_history
        # The size of the model's context as last measured: the tokens of the last
        # response, or for a resumed history its estimate until the first response.
        self._context_tokens = 0
        self._resumed_oversize = False
        limit = settings.auto_compact_token_limit
        if history and limit is not None:
            # A resumed history the model could not take is compacted before the first
            # turn sends it (estimated as Codex estimates: four bytes per token).
            self._context_tokens = sum(approx_tokens(item) for item in history)
            self._resumed_oversize = self._context_tokens >= limit

    # -- the frontend side ----------------------------------------------------------

    async def submit(self, op: Op, *, decided_by: Approver = Approver.USER) -> str:
        """Log ``op`` (durably for decisions and interrupts), then act on it.

        A decision, or the answer to the model's questions, is logged with ``decided_by``,
        the one who answered.

        Decisions and interrupts take effect at once (a running turn is waiting for
        them); turns and shutdown are queued behind the running turn. A shutdown is logged
        when it is acted on, after the turn it waited for. An interrupt that comes before
        its turn has started is kept: that turn ends as interrupted.
        """
        submission_id = str(next(self._ids))
        if isinstance(op, Shutdown):
            # Acted on once the running turn has ended: logged then, after the turn's lines.
            await self._queue.put((submission_id, op))
            return submission_id
        # The writer fsyncs decisions itself (its durability policy); an interrupt is
        # synced here, before the turn is cancelled.
        record = SubmissionRecord(id=submission_id, op=op)
        if isinstance(op, ExecApproval | PatchApproval | ResolveElicitation | UserInputAnswer):
            record.decided_by = decided_by
        elif isinstance(op, ThreadRollback) and op.revert_files:
            # Who asked for the files to be reverted.
            record.decided_by = decided_by
        await self.log.record(record)
        if isinstance(op, Interrupt):
            await self.log.sync()
            running = self._turn_task is not None and not self._turn_task.done()
            if running and not self._turn_ending:
                # Once is enough: a second cancellation would cut short what the turn
                # records on its way out (a killed command's end, the abort itself).
                assert self._turn_task is not None
                if not self._turn_task.cancelling():
                    self._turn_task.cancel()
            elif not running or not self._queue.empty():
                # For the turn that starts next (a prompt already waits, or none runs).
                self._interrupt_pending = True
            # Else the running turn is writing its end: there is nothing left to stop.
        elif isinstance(op, ExecApproval | PatchApproval):
            future = self._pending.pop(op.id, None)
            if future is not None and not future.done():
                future.set_result(Answer(_decision(op.decision), submission_id, decided_by))
        elif isinstance(op, UserInputAnswer):
            asked = self._asking.pop(op.id, None)
            if asked is not None and not asked.done():
                asked.set_result(InputReply(op.response, submission_id, decided_by))
        elif isinstance(op, SetThreadName):
            # Not a turn: the name is taken at once, as in Codex, even while a turn runs.
            await self._set_name(op.name)
        elif isinstance(op, ResolveElicitation):
            future = self._pending.pop(str(op.request_id), None)
            if future is not None and not future.done():
                future.set_result(Answer(
                    _ELICITATION_DECISIONS.get(op.decision, ReviewDecision.DENIED),
                    submission_id, decided_by,
                    content=None if op.content is UNSET else op.content))
        else:
            await self._queue.put((submission_id, op))
        return submission_id

    async def _set_name(self, name: str) -> None:
        """Name the thread: in the names file listings read (as ``thread/name/set``
        does) and in the log (``thread_name_updated``, which Codex writes too)."""
        name = name.strip()
        if not name:
            await self.log.record(WarningEvent(message="a thread name must not be empty"))
            return
        if self._index is not None:
            from llmx.projections.thread_names import set_thread_name

            try:
                await asyncio.to_thread(set_thread_name, self._index.home,
                                        self.settings.thread_id, name)
            except OSError as exc:
                await self.log.record(WarningEvent(
                    message=f"cannot save the thread name: {exc.strerror or exc}"))
                return
        await self.log.record(ThreadNameUpdated(thread_id=self.settings.thread_id,
                                                thread_name=name))

    async def record_prompt(self, text: str) -> None:
        """Add a turn's prompt to ``history.jsonl``: called once the turn's opening is in
        the rollout (a prompt that never reached the model is not history)."""
        if self._prompt_history is not None:
            await self._prompt_history.record(self.settings.thread_id, text)

    def history_metadata(self) -> tuple[int, int]:
        """``(history_log_id, history_entry_count)`` for a ``session_configured`` event:
        the inode and line count of ``history.jsonl``; ``(0, 0)`` when none is kept."""
        if self._prompt_history is None:
            return (0, 0)
        log_id, count = self._prompt_history.metadata()
        return (log_id, count)

    async def run(self) -> None:
        """Process queued turns until ``shutdown``; then drain and close the log.

        A turn that fails with an error (the rollout cannot be written: a read-only or
        full disk, ``sessions`` being a file) stops the session at once: it is kept in
        :attr:`error`, nothing queued runs, the log is closed, which ends every
        subscription (a frontend learns of the end instead of waiting for lines that
        will not come), and ``run`` raises it."""
        try:
            await self._serve()
        except Exception as exc:
            self.error = exc
            await self._stop()
            raise

    async def _stop(self) -> None:
        """What is left to do once an error has stopped the session; each step best
        effort, as the log that failed may fail again."""
        while not self._queue.empty():
            self._queue.get_nowait()
        with contextlib.suppress(Exception):
            await self._processes.close()
        with contextlib.suppress(Exception):
            await self.log.close()
        if self._index is not None:
            with contextlib.suppress(Exception):
                self._index.close()

    async def _serve(self) -> None:
        while True:
            submission_id, op = await self._queue.get()
            if op is None:
                # A turn's task ended with an error: it is raised here.
                await self._wait_turn()
            elif isinstance(op, UserTurn | UserInputOp):
                await self._wait_turn()
                if isinstance(op, UserTurn):
                    await self._take_turn_settings(op)
                self._start_turn(op)
            elif isinstance(op, Compact):
                await self._wait_turn()
                self._start_compaction()
            elif isinstance(op, RunUserShellCommand):
                await self._wait_turn()
                self._start_user_shell(op.command)
            elif isinstance(op, ThreadRollback):
                # Not queued behind a running turn: refused while one runs, as in Codex.
                running = self._turn_task is not None and not self._turn_task.done()
                if await roll_back(self.log, self._history, op.num_turns,
                                   turn_running=running,
                                   revert=self._revert_for(op, submission_id)):
                    self.update_index()
            elif isinstance(op, Shutdown):
                await self._wait_turn()
                # Kept commands die with the session, their ends recorded first.
                await self._processes.close()
                await self.log.record(SubmissionRecord(id=submission_id, op=op))
                # No ``shutdown_complete`` line: it tells a live client the session is
                # gone, which closing the log (ending every subscription) already does,
                # and Codex does not persist it either.
                await self.log.close()
                self.update_index()
                if self._index is not None:
                    self._index.close()
                return

    def _revert_for(self, op: ThreadRollback, submission_id: str) -> FileRevert | None:
        """The revert a rollback asks for (its turns' patches, under this sandbox)."""
        if not op.revert_files:
            return None
        return FileRevert(self.settings.sandbox, self.settings.thread_id, submission_id)

    def update_index(self) -> None:
        """Fold what the log has written since the last call into the session index."""
        path = self.log.path
        if self._index is None or path is None or not self.log.materialized:
            return
        if self._indexed_ordinal == self.log.next_ordinal:
            return
        self._indexed_ordinal = self.log.next_ordinal
        self._index.record_flush(path)

    def user_turn_count(self) -> int:
        """How many user turns the model's history holds (what a rollback can drop)."""
        return user_turn_count(self._history)

    @property
    def turn_running(self) -> bool:
        """True while a turn runs or a submitted one waits to start; not once the turn
        is writing its end (nothing is left that an interrupt would stop)."""
        running = (self._turn_task is not None and not self._turn_task.done()
                   and not self._turn_ending)
        return running or not self._queue.empty()

    # -- what its turns ask of it (``TurnHost``) --------------------------------------

    @property
    def history(self) -> list[HistoryItem]:
        return self._history

    @property
    def approvals(self) -> ApprovalCache:
        return self._approvals

    @property
    def processes(self) -> ProcessStore:
        return self._processes

    def initial_context(self) -> list[dict[str, Any]]:
        settings = self.settings
        items: list[dict[str, Any]] = []
        if settings.collaboration.mode != DEFAULT:
            # A thread that starts in another mode is told so first, as in Codex.
            items.append(mode_message(settings.collaboration))
        if settings.user_instructions:
            items.append(user_instructions_message(settings.cwd, settings.user_instructions))
        items.append(self.environment_message())
        return items

    def environment_message(self) -> dict[str, Any]:
        """The ``<environment_context>`` of the current settings (permissions included)."""
        settings = self.settings
        sandbox = settings.sandbox
        mode = str(sandbox.policy_json.get("type", "read-only"))
        context = EnvironmentContext(
            cwd=settings.cwd,
            shell=settings.shell,
            sandbox_mode=mode,
            approval_policy=settings.approval_policy.value,
            network_access=sandbox.network_enabled,
            writable_roots=sandbox.writable_roots if mode == "workspace-write" else (),
        )
        return context.message()

    def _turn_context_items(self) -> list[dict[str, Any]]:
        """What opens the next turn: the initial context once, then what changed."""
        if not self._context_recorded:
            return self.initial_context()
        if self._baseline is None:
            return []
        return context_updates(self._baseline, self.settings, self.environment_message)

    def add_usage(self, usage: TokenUsage) -> TokenUsage:
        self._usage = added_usage(self._usage, usage)
        self._context_tokens = usage.total_tokens
        return self._usage

    async def await_decision(self, call_id: str, request: ApprovalRequest) -> Answer:
        """Publish an approval request and wait for the decision op that answers it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        self._pending[call_id] = future
        # Published to every subscriber: a frontend answers with a decision op.
        await self.log.record(request)
        try:
            return await future
        finally:
            self._pending.pop(call_id, None)

    async def await_user_input(self, turn_id: str, request: RequestUserInput) -> InputReply:
        """Publish the model's questions and wait for the answer op naming ``turn_id``."""
        future: asyncio.Future[InputReply] = asyncio.get_running_loop().create_future()
        self._asking[turn_id] = future
        await self.log.record(request)
        try:
            return await future
        finally:
            self._asking.pop(turn_id, None)

    # -- running turns -------------------------------------------------------------

    async def _take_turn_settings(self, op: UserTurn) -> None:
        """The turn's own settings (model, approval policy, sandbox), kept for the turns
        after it; a setting that cannot be taken is a warning in the log."""
        self.settings, refused = settings_for_turn(self.settings, op, self._sandbox_for)
        for reason in refused:
            await self.log.record(WarningEvent(message=f"{reason}; the turn keeps the "
                                               "thread's setting"))

    def _start_turn(self, op: TurnOp) -> None:
        inputs = [item.text for item in op.items if isinstance(item, TextInput)]
        self._start_task(self._run_turn(op, inputs), "turn")

    def _start_task(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``work`` (a turn, a compaction, a user's shell command) as the turn task;
        an error that ends it wakes the runner, which stops the session (see run)."""
        task = asyncio.create_task(work, name=name)
        task.add_done_callback(self._task_ended)
        self._turn_task = task
        self._turn_ending = False

    def turn_ending(self) -> None:
        self._turn_ending = True

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._queue.put_nowait(("", None))

    def _compaction_notice(self) -> str | None:
        """Why the history must be compacted before the next turn, if it must."""
        limit = self.settings.auto_compact_token_limit
        if limit is None or self._context_tokens < limit:
            return None
        if self._resumed_oversize:
            return (f"The resumed history (about {self._context_tokens} tokens) is larger "
                    f"than the model can take (compaction limit {limit}): compacting it "
                    "before the next turn.")
        return (f"The context holds {self._context_tokens} tokens, at or above the "
                f"compaction limit of {limit}: compacting it before the next turn.")

    def _start_compaction(self) -> None:
        compaction = Compaction(self.settings, self.log, self.model, self,
                                initial_context=self.initial_context())
        self._start_task(self._compact_now(compaction), f"compaction-{compaction.turn_id}")

    async def _compact_now(self, compaction: Compaction) -> None:
        await self._run_compaction(compaction)
        self._resumed_oversize = False

    async def _run_turn(self, op: TurnOp, inputs: list[str]) -> None:
        interrupted, self._interrupt_pending = self._interrupt_pending, False
        notice = self._compaction_notice()
        if notice is not None and not interrupted:
            compaction = Compaction(self.settings, self.log, self.model, self,
                                    initial_context=self.initial_context(), notice=notice)
            outcome = await self._run_compaction(compaction)
            self._resumed_oversize = False
            # An interrupt stopped the compaction: the turn is on record, and aborted.
            interrupted = outcome.status is TurnStatus.ABORTED
        schema = op.final_output_json_schema
        turn = Turn(
            self.settings, self.log, self.model, self, list(op.items),
            schema if isinstance(schema, dict) else None,
            context_items=self._turn_context_items(),
            interrupted=interrupted,
        )
        self._turn_ended(await turn.run(), inputs)

    def _start_user_shell(self, command: str) -> None:
        shell = UserShell(self.settings, self.log, self, command)
        self._start_task(self._run_user_shell(shell), f"user-shell-{shell.turn_id}")

    async def _run_user_shell(self, shell: UserShell) -> None:
        await shell.run()
        # Not a turn of the model's: the thread's outcome and ``notify`` stay as they were.
        self.update_index()

    async def _run_compaction(self, compaction: Compaction) -> TurnOutcome:
        outcome = await compaction.run()
        self._context_recorded = self._context_recorded or outcome.context_recorded
        if outcome.context_recorded:
            # Its turn_context is the model's baseline now.
            self._baseline = ContextBaseline.from_settings(self.settings)
        if outcome.status is TurnStatus.COMPLETED:
            # Measured again by the next response; until then the summary is small.
            self._context_tokens = sum(approx_tokens(item) for item in self._history)
        # Not a turn of the user's: the thread's outcome and ``notify`` stay as they were.
        self.failed = self.failed or outcome.status is TurnStatus.FAILED
        self.update_index()
        return outcome

    def _turn_ended(self, outcome: TurnOutcome, inputs: list[str]) -> None:
        """What a turn's end means for the thread: its outcome, ``notify``, the index."""
        self._context_recorded = self._context_recorded or outcome.context_recorded
        if outcome.opened:
            self._baseline = ContextBaseline.from_settings(self.settings)
        if outcome.status is TurnStatus.ABORTED:
            self.aborted = True
        else:
            self.failed = self.failed or outcome.status is TurnStatus.FAILED
            self.last_agent_message = outcome.last_agent_message
            if self.settings.notify:
                run_notify(
                    self.settings.notify,
                    turn_complete_payload(
                        thread_id=self.settings.thread_id,
                        turn_id=outcome.turn_id,
                        cwd=self.settings.cwd,
                        input_messages=inputs,
                        last_assistant_message=outcome.last_agent_message,
                    ),
                )
        # The turn's lines are flushed (and at turn end fsynced): listings may show them.
        self.update_index()

    async def _wait_turn(self) -> None:
        task = self._turn_task
        if task is None:
            return
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._turn_task = None


# An answer to a server's question, as a decision: only ``accept`` lets a tool run.
_ELICITATION_DECISIONS = {
    "accept": ReviewDecision.APPROVED,
    "decline": ReviewDecision.DENIED,
    "cancel": ReviewDecision.ABORT,
}


def _decision(value: Any) -> ReviewDecision:
    try:
        return ReviewDecision(plain_decision(value) if isinstance(value, dict) else value)
    except (ValueError, TypeError):
        # Anything we cannot read fails closed, as Codex's default decision does.
        return ReviewDecision.DENIED
