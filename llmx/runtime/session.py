"""A session: one submission queue, one turn task at a time, one log.

Frontends talk to a session only through :meth:`Session.submit`. Every submission is
appended to the log (as our ``submission`` line) before it is acted on; approval
decisions and interrupts are also synced to disk first, so the log proves what was
decided before anything happened because of it. The session never prints: frontends
render what the log publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Sequence
from typing import Any

from llmx import __version__
from llmx.events.ids import format_timestamp
from llmx.runtime.approvals import ApprovalCache, ReviewDecision
from llmx.runtime.instructions import (
    EnvironmentContext,
    developer_message,
    user_instructions_message,
)
from llmx.runtime.models.stream import TokenUsage
from llmx.runtime.notify import run_notify, turn_complete_payload
from llmx.runtime.session_types import (
    SUBMISSION_LINE_TYPE,
    ApprovalResponder,
    ModelStreamer,
    SessionLog,
    SessionSettings,
)
from llmx.runtime.turn import Turn

# Ops whose effect must not precede their record on disk.
_DURABLE_OPS = frozenset({"exec_approval", "patch_approval", "interrupt"})


class Session:
    def __init__(
        self,
        settings: SessionSettings,
        log: SessionLog,
        model: ModelStreamer,
        *,
        history: Sequence[dict[str, Any]] = (),
        approval_responder: ApprovalResponder | None = None,
    ) -> None:
        self.settings = settings
        self.log = log
        self.model = model
        self.history: list[dict[str, Any]] = list(history)
        # A resumed session already has its initial context in the history.
        self.context_recorded = bool(history)
        self.approvals = ApprovalCache()
        self.failed = False
        self.aborted = False
        self.last_agent_message: str | None = None
        self._responder = approval_responder
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._ids = itertools.count()
        self._turn_task: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[ReviewDecision]] = {}
        self._usage = TokenUsage()
        self._turn_inputs: list[str] = []
        self._responder_tasks: set[asyncio.Task[None]] = set()
        # call id -> the submission id of the decision that answered its approval request.
        self.decision_submissions: dict[str, str] = {}

    # -- the frontend side ----------------------------------------------------------

    async def submit(self, op: dict[str, Any]) -> str:
        """Log ``op`` (durably for decisions and interrupts), then act on it.

        Decisions and interrupts take effect at once (a running turn is waiting for
        them); turns and shutdown are queued behind the running turn.
        """
        submission_id = str(next(self._ids))
        await self.log.emit(SUBMISSION_LINE_TYPE, {"id": submission_id, "op": op})
        kind = op.get("type")
        if kind in _DURABLE_OPS:
            await self.log.sync()
        if kind == "interrupt":
            if self._turn_task is not None and not self._turn_task.done():
                self._turn_task.cancel()
        elif kind in ("exec_approval", "patch_approval"):
            call_id = str(op.get("id"))
            self.decision_submissions[call_id] = submission_id
            future = self._pending.pop(call_id, None)
            if future is not None and not future.done():
                future.set_result(_decision(op.get("decision")))
        else:
            await self._queue.put((submission_id, op))
        return submission_id

    async def run(self) -> None:
        """Process queued turns until ``shutdown``; then drain and close the log."""
        while True:
            submission_id, op = await self._queue.get()
            kind = op.get("type")
            if kind in ("user_turn", "user_input"):
                await self._wait_turn()
                self._start_turn(submission_id, op)
            elif kind == "shutdown":
                await self._wait_turn()
                await self.log.emit("event_msg", {"type": "shutdown_complete"})
                await self.log.close()
                return

    # -- the runtime side ------------------------------------------------------------

    def base_instructions_message(self) -> dict[str, Any]:
        return developer_message(self.settings.base_instructions)

    def session_meta(self) -> dict[str, Any]:
        settings = self.settings
        return {
            "id": settings.thread_id,
            "timestamp": format_timestamp(),
            "cwd": str(settings.cwd),
            "originator": settings.originator,
            "cli_version": __version__,
            "source": settings.source,
            "model_provider": settings.model_provider,
            "base_instructions": {"text": settings.base_instructions},
        }

    def initial_context(self) -> list[dict[str, Any]]:
        settings = self.settings
        items: list[dict[str, Any]] = []
        if settings.user_instructions:
            items.append(user_instructions_message(settings.cwd, settings.user_instructions))
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
        items.append(context.message())
        return items

    def add_usage(self, usage: TokenUsage) -> TokenUsage:
        total = self._usage
        self._usage = TokenUsage(
            input_tokens=total.input_tokens + usage.input_tokens,
            cached_input_tokens=total.cached_input_tokens + usage.cached_input_tokens,
            output_tokens=total.output_tokens + usage.output_tokens,
            reasoning_output_tokens=total.reasoning_output_tokens + usage.reasoning_output_tokens,
            total_tokens=total.total_tokens + usage.total_tokens,
        )
        return self._usage

    async def await_decision(self, call_id: str, request: dict[str, Any]) -> ReviewDecision:
        """Publish an approval request and wait for the decision op that answers it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ReviewDecision] = loop.create_future()
        self._pending[call_id] = future
        await self.log.emit("event_msg", request)
        if self._responder is not None:
            task = asyncio.create_task(self._respond(call_id, request))
            self._responder_tasks.add(task)
            task.add_done_callback(self._responder_tasks.discard)
        try:
            return await future
        finally:
            self._pending.pop(call_id, None)

    async def _respond(self, call_id: str, request: dict[str, Any]) -> None:
        assert self._responder is not None
        decision = await self._responder(request)
        is_patch = request["type"] == "apply_patch_approval_request"
        op_type = "patch_approval" if is_patch else "exec_approval"
        await self.submit({"type": op_type, "id": call_id, "decision": decision.value})

    def turn_finished(self, turn: Turn) -> None:
        self.last_agent_message = turn.last_agent_message
        if self.settings.notify:
            run_notify(
                self.settings.notify,
                turn_complete_payload(
                    thread_id=self.settings.thread_id,
                    turn_id=turn.turn_id,
                    cwd=self.settings.cwd,
                    input_messages=self._turn_inputs,
                    last_assistant_message=turn.last_agent_message,
                ),
            )

    def _start_turn(self, submission_id: str, op: dict[str, Any]) -> None:
        items = [dict(item) for item in op.get("items", [])]
        self._turn_inputs = [
            str(item.get("text", "")) for item in items if item.get("type") == "text"
        ]
        turn = Turn(self, submission_id, items, op.get("final_output_json_schema"))
        self._turn_task = asyncio.create_task(turn.run(), name=f"turn-{turn.turn_id}")

    async def _wait_turn(self) -> None:
        task = self._turn_task
        if task is None:
            return
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._turn_task = None


def _decision(value: Any) -> ReviewDecision:
    try:
        return ReviewDecision(value)
    except ValueError:
        # Anything we cannot read fails closed, as Codex's default decision does.
        return ReviewDecision.DENIED
