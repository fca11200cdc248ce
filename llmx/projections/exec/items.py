"""What the exec projections render: turn items and notifications, one shape for every era.

Codex writes the same facts in two representations: legacy events (``exec_command_begin``,
``agent_message``, ...) and, since 0.147's paginated history, ``item_completed`` turn items.
:mod:`llmx.projections.exec.stream` folds either into the notifications below, the way
Codex's app-server feeds its ``exec`` front end; the human and ``--json`` renderers read only
these, so they cannot disagree about what happened.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec


class ItemStatus(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    # The user (or policy) said no; the tool never ran.
    DECLINED = "declined"


class ExecTurnStatus(enum.StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    # The log ends inside the turn (a crash, a kill, or a file still being written).
    UNFINISHED = "unfinished"


class PlanStepStatus(enum.StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class NoticeKind(enum.Enum):
    WARNING = "warning"
    ERROR = "error"
    # A retry notice from the model stream; not fatal.
    STREAM_ERROR = "stream_error"
    DEPRECATION = "deprecation"
    BACKGROUND = "background"


class ExecUserMessageItem(msgspec.Struct):
    id: str
    text: str


class ExecAgentMessageItem(msgspec.Struct):
    id: str
    text: str


class ExecReasoningItem(msgspec.Struct):
    id: str
    summary: list[str]
    content: list[str] = msgspec.field(default_factory=list)


class CommandItem(msgspec.Struct):
    id: str
    command: list[str]
    cwd: str
    status: ItemStatus
    aggregated_output: str | None = None
    exit_code: int | None = None
    duration_ms: int | None = None
    # Who ran it: the model's tool call, or the user (``!cmd``: source ``user_shell``).
    by_user: bool = False


class FileChangeEntry(msgspec.Struct):
    path: str
    kind: str  # "add" | "delete" | "update", Codex's wire names
    content: str | None = None
    unified_diff: str | None = None
    move_path: str | None = None


class ExecFileChangeItem(msgspec.Struct):
    id: str
    changes: list[FileChangeEntry]
    status: ItemStatus


class ExecMcpToolCallItem(msgspec.Struct):
    id: str
    server: str
    tool: str
    arguments: Any
    status: ItemStatus
    result: Any = None
    error: str | None = None
    duration_ms: int | None = None


class ExecWebSearchItem(msgspec.Struct):
    id: str
    query: str
    action: Any = None


class ExecPlanItem(msgspec.Struct):
    id: str
    text: str


class CompactionItem(msgspec.Struct):
    id: str


ExecItem = (
    ExecUserMessageItem
    | ExecAgentMessageItem
    | ExecReasoningItem
    | CommandItem
    | ExecFileChangeItem
    | ExecMcpToolCallItem
    | ExecWebSearchItem
    | ExecPlanItem
    | CompactionItem
)


class SessionHeader(msgspec.Struct):
    """The ``key: value`` block ``exec`` prints before the prompt."""

    title: str
    entries: list[tuple[str, str]]


class ExecTurnStarted(msgspec.Struct):
    turn_id: str
    thread_id: str
    header: SessionHeader


class ExecItemStarted(msgspec.Struct):
    item: ExecItem


class ExecItemCompleted(msgspec.Struct):
    item: ExecItem


class UsageUpdated(msgspec.Struct):
    """The thread's cumulative token usage (``total_token_usage``)."""

    input_tokens: int
    cached_input_tokens: int
    cache_write_input_tokens: int
    output_tokens: int
    reasoning_output_tokens: int


class ExecPlanStep(msgspec.Struct):
    step: str
    status: PlanStepStatus


class PlanUpdated(msgspec.Struct):
    explanation: str | None
    steps: list[ExecPlanStep]


class TurnDiffUpdated(msgspec.Struct):
    diff: str


class Notice(msgspec.Struct):
    kind: NoticeKind
    message: str
    details: str | None = None


class ApprovalRequested(msgspec.Struct):
    """The runtime asked the user before running a command or writing files."""

    call_id: str
    subject: str  # "command", "patch", "mcp tool", ...
    summary: str  # the command line, or the paths touched
    cwd: str | None = None
    reason: str | None = None


class ApprovalDecided(msgspec.Struct):
    call_id: str
    decision: str
    subject: str = ""
    # Who or what decided, as recorded (``user``, ``preset``, ``unattended``, ``policy``,
    # ``session``, ``client``...); None when the log does not say.
    decided_by: str | None = None


class Refusal(msgspec.Struct):
    """A tool call that did nothing, and why, where nobody was asked: refused by the
    approval policy, or a patch that failed verification or could not be applied."""

    call_id: str
    message: str


class EscalationRecorded(msgspec.Struct):
    """A denied command re-run with explicit permissions, and which ones."""

    call_id: str
    command: str
    permissions: str
    reason: str | None = None


class TurnEnded(msgspec.Struct):
    turn_id: str
    status: ExecTurnStatus
    error: str | None = None
    last_agent_message: str | None = None


ExecNotification = (
    ExecTurnStarted
    | ExecItemStarted
    | ExecItemCompleted
    | UsageUpdated
    | PlanUpdated
    | TurnDiffUpdated
    | Notice
    | ApprovalRequested
    | ApprovalDecided
    | Refusal
    | EscalationRecorded
    | TurnEnded
)
