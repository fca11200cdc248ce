"""The cells of the interactive transcript: what one fold of the log shows a person.

A cell is one block on screen (a prompt, an answer, a command with its output, a patch,
a plan, a notice, an approval). Cells are plain data; the TUI renders them, tests compare
them. A cell that is still streaming (an answer arriving delta by delta, a command's
output while it runs) is changed in place and its ``revision`` goes up, so a renderer
can cache what it drew for every other cell.

Cells carry no timing: the same session folds to equal cells live, after ``llmx resume``
and in ``llmx replay --tui`` (a turn's duration is part of the log, so it is a field).
"""

from __future__ import annotations

import enum

import msgspec

from llmx.projections.exec.items import (
    ExecPlanStep,
    ExecTurnStatus,
    FileChangeEntry,
    ItemStatus,
    NoticeKind,
)

__all__ = [
    "AgentCell",
    "ApprovalCell",
    "Cell",
    "CommandCell",
    "EscalationCell",
    "ExecPlanStep",
    "ExecTurnStatus",
    "FileChangeEntry",
    "InfoCell",
    "InfoKind",
    "ItemStatus",
    "NoticeCell",
    "NoticeKind",
    "PatchCell",
    "PlanCell",
    "ReasoningCell",
    "ToolCell",
    "TurnEndCell",
    "UserCell",
]


class CellBase(msgspec.Struct, kw_only=True):
    # Goes up by one each time the cell changes after it was first shown.
    revision: int = 0

    def touch(self) -> None:
        self.revision += 1


class UserCell(CellBase, kw_only=True):
    """A prompt the user submitted."""

    text: str
    # The turn it opened ("" when the file does not say), for a fork through that turn.
    turn_id: str = ""


class AgentCell(CellBase, kw_only=True):
    """An answer of the model; ``streaming`` until its completed item arrives."""

    item_id: str
    text: str
    streaming: bool = False


class ReasoningCell(CellBase, kw_only=True):
    """A reasoning summary (the model's own words about what it is doing)."""

    item_id: str
    text: str
    streaming: bool = False


class CommandCell(CellBase, kw_only=True):
    """A shell command: its line, where it ran, its output (live while it runs)."""

    call_id: str
    command: str
    cwd: str
    status: ItemStatus
    output: str = ""
    exit_code: int | None = None
    duration_ms: int | None = None
    # Who ran it: "agent" (a tool call) or "user" (a ``!cmd`` of the composer).
    source: str = "agent"


class PatchCell(CellBase, kw_only=True):
    """An apply_patch: the files it touches, each with its diff."""

    call_id: str
    changes: list[FileChangeEntry]
    status: ItemStatus
    # The turn's working folder: paths are shown relative to it.
    cwd: str = ""


class ToolCell(CellBase, kw_only=True):
    """Any other tool item: an MCP tool call (``server/tool``) or a web search."""

    call_id: str
    kind: str  # "mcp" | "web_search"
    title: str
    status: ItemStatus
    detail: str | None = None


class PlanCell(CellBase, kw_only=True):
    explanation: str | None
    steps: list[ExecPlanStep]


class NoticeCell(CellBase, kw_only=True):
    """An error, warning, refusal or retry notice."""

    kind: NoticeKind
    message: str
    details: str | None = None


class ApprovalCell(CellBase, kw_only=True):
    """An approval request and, once given, its decision.

    ``call_id`` is the id the answer carries (``approval_id`` when the request has one).
    ``decision`` stays None while nobody has answered.
    """

    call_id: str
    subject: str  # "command" | "patch" | "mcp"
    summary: str
    cwd: str | None = None
    reason: str | None = None
    decision: str | None = None


class EscalationCell(CellBase, kw_only=True):
    """A command re-run with more permissions than the turn's sandbox, and by whose leave."""

    call_id: str
    command: str
    permissions: str
    reason: str | None = None


class TurnEndCell(CellBase, kw_only=True):
    """The end of a turn that the log closed explicitly (completed, failed, interrupted)."""

    status: ExecTurnStatus
    error: str | None = None
    duration_ms: int | None = None


class InfoKind(enum.StrEnum):
    # The thread continues another one (a fork): its history comes first.
    FORKED = "forked"
    # Turns were rolled back (backtrack); the file changes they made stay.
    ROLLED_BACK = "rolled_back"
    RENAMED = "renamed"
    COMPACTED = "compacted"
    # The model's questions (request_user_input) and the answers given.
    ANSWERED = "answered"


class InfoCell(CellBase, kw_only=True):
    kind: InfoKind
    text: str


Cell = (
    UserCell
    | AgentCell
    | ReasoningCell
    | CommandCell
    | PatchCell
    | ToolCell
    | PlanCell
    | NoticeCell
    | ApprovalCell
    | EscalationCell
    | TurnEndCell
    | InfoCell
)
