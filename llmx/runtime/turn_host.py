"""What a turn and its session say to each other: ``TurnHost`` one way, ``TurnOutcome``
the other.

A turn does not know the session it runs in. It gets its settings, the log and the
model when it is made, asks its host for the few things only the session holds (the
model's history, the approvals of this session, the running token total, the answers to
approval requests, the prompt history), and returns how it went; the session, not the
turn, decides what that means for the thread (its outcome, ``notify``, the index).
"""

from __future__ import annotations

import enum
from typing import Any, Protocol

import msgspec

from llmx.events.event_msgs import RequestUserInput
from llmx.events.ops import ReviewDecision
from llmx.events.primitives import TokenUsage
from llmx.events.records import Approver
from llmx.runtime.approvals import ApprovalCache
from llmx.runtime.session_types import ApprovalRequest, HistoryItem
from llmx.runtime.tools.unified_exec import ProcessStore


class Answer(msgspec.Struct, frozen=True):
    """The answer to one approval request, as it was logged before it is acted on."""

    decision: ReviewDecision
    # The ``submission`` line that carried it.
    submission_id: str
    decided_by: Approver
    # The filled-in form of an accepted form elicitation (``resolve_elicitation``'s
    # ``content``), None otherwise.
    content: Any = None


class InputReply(msgspec.Struct, frozen=True):
    """The answer to one ``request_user_input``, as it was logged before it is used."""

    # The op's ``response`` as submitted (``{"answers": {...}}``; read by the tool).
    response: Any
    submission_id: str
    decided_by: Approver


class TurnHost(Protocol):
    """The session as its turns see it."""

    @property
    def history(self) -> list[HistoryItem]:
        """The model's context: every request sends it; the turn appends to it."""
        ...

    @property
    def approvals(self) -> ApprovalCache:
        """Commands approved for the rest of the session."""
        ...

    def add_usage(self, usage: TokenUsage) -> TokenUsage:
        """Add one response's usage to the thread's running total; the new total."""
        ...

    async def await_decision(self, call_id: str, request: ApprovalRequest) -> Answer:
        """Publish ``request`` and wait for the decision a frontend submits for it."""
        ...

    async def await_user_input(self, turn_id: str, request: RequestUserInput) -> InputReply:
        """Publish ``request`` and wait for the ``user_input_answer`` op naming
        ``turn_id``."""
        ...

    async def record_prompt(self, text: str) -> None:
        """Keep the turn's prompt in ``history.jsonl`` (once the model has it)."""
        ...

    def turn_ending(self) -> None:
        """The turn is writing its end (``task_complete``): an interrupt from now on
        would stop nothing, and must not cut that line's writing short."""
        ...

    @property
    def processes(self) -> ProcessStore:
        """The commands the session keeps running (``exec_command`` past its yield)."""
        ...

    def initial_context(self) -> list[dict[str, Any]]:
        """What opens a new history (the instructions, the environment): a compaction
        inside a turn rebuilds the history on it."""
        ...


class TurnStatus(enum.StrEnum):
    # Ended by the model (``task_complete``).
    COMPLETED = "completed"
    # Ended by an error (``task_complete`` with an error).
    FAILED = "failed"
    # Interrupted, or aborted by a decision (``turn_aborted``).
    ABORTED = "aborted"


class TurnOutcome(msgspec.Struct, frozen=True):
    """How one turn ended."""

    turn_id: str
    status: TurnStatus
    last_agent_message: str | None
    # The thread's initial context reached the log with this turn: later turns must not
    # send it again. False when the turn never reached the model (it was withdrawn).
    context_recorded: bool
    # The turn's opening (its context, turn_context and message) reached the log: the model
    # now knows the settings it ran with.
    opened: bool = False
