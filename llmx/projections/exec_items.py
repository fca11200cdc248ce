"""What the exec projections render: turn items and notifications, one shape for every era.

Codex writes the same facts in two representations: legacy events (``exec_command_begin``,
``agent_message``, ...) and, since 0.147's paginated history, ``item_completed`` turn items.
:mod:`llmx.projections.exec_stream` folds either into the notifications below, the way
Codex's app-server feeds its ``exec`` front end; the human and ``--json`` renderers read only
these, so they cannot disagree about what happened.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class ItemStatus(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    # The user (or policy) said no; the tool never ran.
    DECLINED = "declined"


class TurnStatus(enum.StrEnum):
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


@dataclass(slots=True)
class UserMessageItem:
    id: str
    text: str


@dataclass(slots=True)
class AgentMessageItem:
    id: str
    text: str


@dataclass(slots=True)
class ReasoningItem:
    id: str
    summary: list[str]
    content: list[str] = field(default_factory=list)


@dataclass(slots=True)
class CommandItem:
    id: str
    command: list[str]
    cwd: str
    status: ItemStatus
    aggregated_output: str | None = None
    exit_code: int | None = None
    duration_ms: int | None = None


@dataclass(slots=True)
class FileChangeEntry:
    path: str
    kind: str  # "add" | "delete" | "update", Codex's wire names
    content: str | None = None
    unified_diff: str | None = None
    move_path: str | None = None


@dataclass(slots=True)
class FileChangeItem:
    id: str
    changes: list[FileChangeEntry]
    status: ItemStatus


@dataclass(slots=True)
class McpToolCallItem:
    id: str
    server: str
    tool: str
    arguments: Any
    status: ItemStatus
    result: Any = None
    error: str | None = None
    duration_ms: int | None = None


@dataclass(slots=True)
class WebSearchItem:
    id: str
    query: str
    action: Any = None


@dataclass(slots=True)
class PlanItem:
    id: str
    text: str


@dataclass(slots=True)
class CompactionItem:
    id: str


ExecItem = (
    UserMessageItem
    | AgentMessageItem
    | ReasoningItem
    | CommandItem
    | FileChangeItem
    | McpToolCallItem
    | WebSearchItem
    | PlanItem
    | CompactionItem
)


@dataclass(slots=True)
class SessionHeader:
    """The ``key: value`` block ``exec`` prints before the prompt."""

    title: str
    entries: list[tuple[str, str]]


@dataclass(slots=True)
class TurnStarted:
    turn_id: str
    thread_id: str
    header: SessionHeader


@dataclass(slots=True)
class ItemStarted:
    item: ExecItem


@dataclass(slots=True)
class ItemCompleted:
    item: ExecItem


@dataclass(slots=True)
class UsageUpdated:
    """The thread's cumulative token usage (``total_token_usage``)."""

    input_tokens: int
    cached_input_tokens: int
    cache_write_input_tokens: int
    output_tokens: int
    reasoning_output_tokens: int


@dataclass(slots=True)
class PlanStep:
    step: str
    status: PlanStepStatus


@dataclass(slots=True)
class PlanUpdated:
    explanation: str | None
    steps: list[PlanStep]


@dataclass(slots=True)
class TurnDiffUpdated:
    diff: str


@dataclass(slots=True)
class Notice:
    kind: NoticeKind
    message: str
    details: str | None = None


@dataclass(slots=True)
class ApprovalRequested:
    """The runtime asked the user before running a command or writing files."""

    call_id: str
    subject: str  # "command", "patch", "mcp tool", ...
    summary: str  # the command line, or the paths touched
    cwd: str | None = None
    reason: str | None = None


@dataclass(slots=True)
class ApprovalDecided:
    call_id: str
    decision: str
    subject: str = ""


@dataclass(slots=True)
class EscalationRecorded:
    """A denied command re-run with explicit permissions, and which ones."""

    call_id: str
    command: str
    permissions: str
    reason: str | None = None


@dataclass(slots=True)
class TurnEnded:
    turn_id: str
    status: TurnStatus
    error: str | None = None
    last_agent_message: str | None = None


ExecNotification = (
    TurnStarted
    | ItemStarted
    | ItemCompleted
    | UsageUpdated
    | PlanUpdated
    | TurnDiffUpdated
    | Notice
    | ApprovalRequested
    | ApprovalDecided
    | EscalationRecorded
    | TurnEnded
)
