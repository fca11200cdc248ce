"""``TurnItem``: the complete items of ``item_started``/``item_completed`` events.

Codex 0.169 threads are ``history_mode: "paginated"``: their rollouts carry these full
items instead of the legacy ``user_message``/``exec_command_end``/... events, so the
projections render from them. Variant tags are PascalCase, as Codex writes them.
"""

from __future__ import annotations

import enum

import msgspec
from msgspec import UNSET, Struct, UnsetType

from llmx.events.primitives import Duration, FileChange, JsonValue, ParsedCommand, UserInput


class CommandExecutionStatus(enum.StrEnum):
    IN_PROGRESS = "inProgress"
    COMPLETED = "completed"
    FAILED = "failed"
    # The user or the policy refused to run it.
    DECLINED = "declined"


class ToolCallStatus(enum.StrEnum):
    """Status of MCP and dynamic tool calls."""

    IN_PROGRESS = "inProgress"
    COMPLETED = "completed"
    FAILED = "failed"


class PatchApplyStatus(enum.StrEnum):
    IN_PROGRESS = "inProgress"
    COMPLETED = "completed"
    FAILED = "failed"
    # The user declined the patch; nothing was written.
    DECLINED = "declined"


class TurnItemBase(Struct, tag_field="type"):
    """Base of every ``TurnItem`` variant; each has an ``id``."""


class UserMessageItem(TurnItemBase, tag="UserMessage"):
    id: str
    content: list[UserInput]
    client_id: str | UnsetType = UNSET

    def text(self) -> str:
        """The text inputs joined, as Codex's legacy ``user_message.message``."""
        return "".join(getattr(part, "text", "") for part in self.content)


class AgentText(Struct, tag_field="type", tag="Text"):
    text: str


class AgentMessageItem(TurnItemBase, tag="AgentMessage"):
    id: str
    content: list[AgentText]
    phase: str | UnsetType = UNSET
    memory_citation: JsonValue | UnsetType = UNSET

    def text(self) -> str:
        return "".join(part.text for part in self.content)


class PlanItem(TurnItemBase, tag="Plan"):
    id: str
    text: str


class ReasoningItem(TurnItemBase, tag="Reasoning"):
    id: str
    summary_text: list[str]
    raw_content: list[str] = msgspec.field(default_factory=list)


# The ``source`` of a command the user typed (``!cmd``), not the model.
USER_SHELL_SOURCE = "user_shell"


class CommandExecutionItem(TurnItemBase, tag="CommandExecution"):
    id: str
    command: list[str]
    cwd: str
    parsed_cmd: list[ParsedCommand]
    source: str
    status: CommandExecutionStatus
    process_id: str | UnsetType = UNSET
    interaction_input: str | UnsetType = UNSET
    stdout: str | UnsetType = UNSET
    stderr: str | UnsetType = UNSET
    aggregated_output: str | UnsetType = UNSET
    exit_code: int | UnsetType = UNSET
    duration: Duration | UnsetType = UNSET
    formatted_output: str | UnsetType = UNSET


# The id of the FileChange item llmx records when a rollback reverts its turns' patches
# (``revert-<submission id>``), just before the ``thread_rolled_back`` line.
REVERT_ITEM_PREFIX = "revert-"


class FileChangeItem(TurnItemBase, tag="FileChange"):
    id: str
    changes: dict[str, FileChange]
    status: PatchApplyStatus | UnsetType = UNSET
    auto_approved: bool | UnsetType = UNSET
    stdout: str | UnsetType = UNSET
    stderr: str | UnsetType = UNSET


class McpToolCallError(Struct):
    message: str


class McpToolCallItem(TurnItemBase, tag="McpToolCall"):
    id: str
    server: str
    tool: str
    arguments: JsonValue
    status: ToolCallStatus
    result: JsonValue | UnsetType = UNSET
    error: McpToolCallError | UnsetType = UNSET
    duration: Duration | UnsetType = UNSET


class WebSearchItem(TurnItemBase, tag="WebSearch"):
    id: str
    query: str
    action: JsonValue = None


class ImageViewItem(TurnItemBase, tag="ImageView"):
    id: str
    path: str


class ContextCompactionItem(TurnItemBase, tag="ContextCompaction"):
    id: str


TurnItem = (
    UserMessageItem
    | AgentMessageItem
    | PlanItem
    | ReasoningItem
    | CommandExecutionItem
    | FileChangeItem
    | McpToolCallItem
    | WebSearchItem
    | ImageViewItem
    | ContextCompactionItem
)


# A partial ``TurnItem``: only its tag (folds that classify items, not render them).
class TurnItemHead(Struct):
    """The tag of a ``TurnItem`` (``item`` of ``item_started``/``item_completed``)."""

    type: str | None = None


class UserInputHead(Struct):
    """A ``UserInput`` part's tag and text (None for images and other parts)."""

    type: str = ""
    text: str | None = None


class TurnItemTextHead(Struct):
    """A ``TurnItem``'s tag and its ``content`` parts (``UserMessage``'s user input)."""

    type: str = ""
    content: list[UserInputHead] | None = None
