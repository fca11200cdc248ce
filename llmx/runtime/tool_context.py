"""``ToolContext``: what the tool calls of one turn may use, and nothing else of it.

A handler gets the turn's settings and id, the session's approval cache and kept
processes, a way to write events, and a way to ask for approval. It never sees the turn
or the session behind them.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmx.events.event_log import EventLog
from llmx.events.event_msgs import (
    ApplyPatchApprovalRequest,
    ElicitationRequest,
    ExecApprovalRequest,
    ItemCompleted,
    ItemStarted,
    RequestUserInput,
    RequestUserInputQuestion,
)
from llmx.events.lines import RolloutItem, UnknownPayload
from llmx.events.ops import ReviewDecision
from llmx.events.primitives import FileChange, UnknownCommand
from llmx.events.records import Approver, DecisionRecord
from llmx.events.turn_items import TurnItem
from llmx.runtime.approvals import ApprovalCache
from llmx.runtime.offered_tools import offered_names
from llmx.runtime.session_types import SessionSettings
from llmx.runtime.turn_host import Answer, InputReply, TurnHost

if TYPE_CHECKING:
    from llmx.runtime.tools.unified_exec import ProcessStore
    from llmx.sandbox.patch_safety import PatchTarget


class ToolContext:
    """The part of one turn its tool calls work with."""

    # The ``source`` of the command items it records (Codex's ExecCommandSource): the
    # model's commands, or ``user_shell`` for one the user typed.
    command_source = "unified_exec_startup"
    # A sandboxed command refused as it starts: no item, as Codex's unified exec reports
    # the model's commands (``turn_tools._run``), or, for a command the user typed, the
    # failed item they expect to see.
    denied_start_is_item = False

    def __init__(
        self, settings: SessionSettings, log: EventLog, host: TurnHost, turn_id: str
    ) -> None:
        self.settings = settings
        self.turn_id = turn_id
        self._log = log
        self._host = host
        # Items a tool adds to the model's history after the outputs of its round of
        # calls (an image ``view_image`` attached); the turn records them, in order.
        self.pending_input: list[dict[str, Any]] = []
        # The tools the turn offers its model: a call of another is not run.
        self.offered = offered_names(settings)
        # One question at a time: an answer names the turn, not the call.
        self._asking = asyncio.Lock()

    def aborted_output(self, output: str) -> str:
        """The output of a command an interrupt killed, as its item records it: what it
        printed until then (Codex's unified exec keeps just that)."""
        return output

    @property
    def approvals(self) -> ApprovalCache:
        return self._host.approvals

    @property
    def processes(self) -> ProcessStore:
        return self._host.processes

    async def record(self, *payloads: RolloutItem | UnknownPayload) -> None:
        """Write ``payloads`` to the thread's log (one batch)."""
        await self._log.record(*payloads)

    async def item_started(self, item: TurnItem, started_ms: int) -> None:
        await self.record(
            ItemStarted(
                thread_id=self.settings.thread_id, turn_id=self.turn_id, item=item,
                started_at_ms=started_ms,
            )
        )

    async def item_completed(self, item: TurnItem, started_ms: int, completed_ms: int) -> None:
        await self.record(
            ItemCompleted(
                thread_id=self.settings.thread_id, turn_id=self.turn_id, item=item,
                started_at_ms=started_ms, completed_at_ms=completed_ms,
            )
        )

    async def decided(
        self, call_id: str, subject: str, decision: ReviewDecision, decided_by: Approver,
        *, reason: str | None = None, answer: Answer | None = None,
    ) -> None:
        """Put on record how one approval question was settled and on whose authority:
        asked (``answer``: the submission that carried it) or not (the policy, a session
        approval), before anything happens because of it."""
        record = DecisionRecord(call_id=call_id, subject=subject, decision=decision.value,
                                decided_by=decided_by, turn_id=self.turn_id)
        if answer is not None:
            record.submission_id = answer.submission_id
        if reason is not None:
            record.reason = reason
        await self.record(record)

    async def answered(self, call_id: str, subject: str, answer: Answer) -> None:
        """:meth:`decided` for a question someone answered."""
        await self.decided(call_id, subject, answer.decision, answer.decided_by, answer=answer)

    async def ask_exec(
        self, call_id: str, command: list[str], cwd: Path, reason: str | None,
        additional_permissions: dict[str, Any] | None = None,
    ) -> Answer:
        """Ask whether ``command`` may run; the answer, once it is logged."""
        request = ExecApprovalRequest(
            call_id=call_id,
            turn_id=self.turn_id,
            command=command,
            cwd=str(cwd),
            parsed_cmd=[UnknownCommand(cmd=command[-1])],
        )
        if reason is not None:
            request.reason = reason
        if additional_permissions is not None:
            # What a person approves is exactly what the command will get.
            request.additional_permissions = additional_permissions
        return await self._host.await_decision(call_id, request)

    async def ask_patch(
        self, call_id: str, changes: dict[str, FileChange], refused: list[PatchTarget]
    ) -> Answer:
        """Ask about a patch; ``changes`` are keyed by resolved targets, and ``refused``
        (the targets the sandbox would not write) are named in the reason with why."""
        request = ApplyPatchApprovalRequest(call_id=call_id, turn_id=self.turn_id, changes=changes)
        if refused:
            request.reason = "not writable under the sandbox: " + ", ".join(
                target.describe() for target in refused
            )
        return await self._host.await_decision(call_id, request)

    async def ask_elicitation(self, request: ElicitationRequest) -> Answer:
        """Ask the question of an MCP server (or about one of its tools); answered by a
        ``resolve_elicitation`` submission with the request's ``id``."""
        return await self._host.await_decision(str(request.id), request)

    async def ask_user(
        self, call_id: str, questions: list[RequestUserInputQuestion]
    ) -> InputReply:
        """Ask the user the model's questions; the answer, once it is logged."""
        async with self._asking:
            request = RequestUserInput(call_id=call_id, turn_id=self.turn_id,
                                       questions=questions)
            return await self._host.await_user_input(self.turn_id, request)


def now_ms() -> int:
    return time.time_ns() // 1_000_000
