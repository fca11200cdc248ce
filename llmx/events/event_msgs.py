"""``EventMsg``: the agent-to-client events of ``event_msg`` lines (spec 1.3).

Only the variants llmx emits or renders are typed; any other ``type`` decodes to
:class:`llmx.events.lines.UnknownPayload` and keeps its raw JSON.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, Struct, UnsetType

from llmx.events.nesting import DECODE_ERRORS
from llmx.events.primitives import (
    Duration,
    FileChange,
    JsonValue,
    ParsedCommand,
    TextElement,
    TokenUsage,
)
from llmx.events.turn_items import TurnItem, TurnItemHead, TurnItemTextHead


class EventMsgBase(Struct, tag_field="type"):
    """Base of every ``EventMsg`` variant; payload fields sit next to ``type``."""


# -- session and turn lifecycle ------------------------------------------------------------


class SessionConfigured(EventMsgBase, tag="session_configured"):
    session_id: str
    model: str
    history_log_id: int = 0
    history_entry_count: int = 0
    model_provider_id: str | UnsetType = UNSET
    approval_policy: JsonValue = UNSET
    sandbox_policy: JsonValue = UNSET
    cwd: str | UnsetType = UNSET
    reasoning_effort: str | UnsetType | None = UNSET
    initial_messages: list[JsonValue] | UnsetType = UNSET
    rollout_path: str | None = None
    forked_from_id: str | UnsetType = UNSET
    thread_name: str | UnsetType = UNSET


class TaskStarted(EventMsgBase, tag="task_started"):
    turn_id: str = ""
    model_context_window: int | None = None
    collaboration_mode_kind: str | UnsetType = UNSET
    started_at: int | UnsetType = UNSET


class TurnStarted(TaskStarted, tag="turn_started"):
    """The alias spelling Codex's deserializer also accepts."""


class TaskComplete(EventMsgBase, tag="task_complete"):
    turn_id: str = ""
    last_agent_message: str | None = None
    # A failed turn: ``{"message", "codex_error_info"}``.
    error: JsonValue | UnsetType = UNSET
    started_at: int | UnsetType = UNSET
    completed_at: int | UnsetType = UNSET
    duration_ms: int | UnsetType = UNSET
    time_to_first_token_ms: int | UnsetType = UNSET


class TurnComplete(TaskComplete, tag="turn_complete"):
    """The alias spelling Codex's deserializer also accepts."""


class TurnAborted(EventMsgBase, tag="turn_aborted"):
    reason: str
    turn_id: str | UnsetType = UNSET
    started_at: int | UnsetType = UNSET
    completed_at: int | UnsetType = UNSET
    duration_ms: int | UnsetType = UNSET


class ShutdownComplete(EventMsgBase, tag="shutdown_complete"):
    pass


class ErrorEvent(EventMsgBase, tag="error"):
    message: str
    codex_error_info: JsonValue | UnsetType = UNSET


class WarningEvent(EventMsgBase, tag="warning"):
    message: str


class StreamError(EventMsgBase, tag="stream_error"):
    message: str
    codex_error_info: JsonValue | UnsetType = UNSET
    additional_details: str | UnsetType = UNSET


class BackgroundEvent(EventMsgBase, tag="background_event"):
    message: str


class DeprecationNotice(EventMsgBase, tag="deprecation_notice"):
    summary: str
    details: str | UnsetType = UNSET


class ThreadSettingsApplied(EventMsgBase, tag="thread_settings_applied"):
    thread_id: str
    thread_settings: JsonValue


class ThreadNameUpdated(EventMsgBase, tag="thread_name_updated"):
    thread_id: str
    thread_name: str | UnsetType = UNSET


class ThreadRolledBack(EventMsgBase, tag="thread_rolled_back"):
    num_turns: int


class ContextCompacted(EventMsgBase, tag="context_compacted"):
    pass


# -- messages and reasoning ---------------------------------------------------------------


class UserMessage(EventMsgBase, tag="user_message"):
    message: str
    images: list[str] | UnsetType = UNSET
    local_images: list[str] = msgspec.field(default_factory=list)
    text_elements: list[TextElement] = msgspec.field(default_factory=list)


class AgentMessage(EventMsgBase, tag="agent_message"):
    message: str
    phase: str | UnsetType = UNSET


class AgentMessageDelta(EventMsgBase, tag="agent_message_delta"):
    delta: str


class AgentReasoning(EventMsgBase, tag="agent_reasoning"):
    text: str


class AgentReasoningDelta(EventMsgBase, tag="agent_reasoning_delta"):
    delta: str


class AgentReasoningRawContent(EventMsgBase, tag="agent_reasoning_raw_content"):
    text: str


class AgentReasoningRawContentDelta(EventMsgBase, tag="agent_reasoning_raw_content_delta"):
    delta: str


class AgentReasoningSectionBreak(EventMsgBase, tag="agent_reasoning_section_break"):
    item_id: str = ""
    summary_index: int = 0


# ``thread_id`` and ``turn_id`` are always written (llmx, Codex 0.169); a reader also takes
# an item without them (hand-made and older lines), hence the defaults and ``kw_only``.
class ItemStarted(EventMsgBase, tag="item_started", kw_only=True):
    thread_id: str = ""
    turn_id: str = ""
    item: TurnItem
    started_at_ms: int | UnsetType = UNSET


class ItemCompleted(EventMsgBase, tag="item_completed", kw_only=True):
    thread_id: str = ""
    turn_id: str = ""
    item: TurnItem
    started_at_ms: int | UnsetType = UNSET
    completed_at_ms: int | UnsetType = UNSET


class AgentMessageContentDelta(EventMsgBase, tag="agent_message_content_delta"):
    thread_id: str
    turn_id: str
    item_id: str
    delta: str


class ReasoningContentDelta(EventMsgBase, tag="reasoning_content_delta"):
    thread_id: str
    turn_id: str
    item_id: str
    delta: str
    summary_index: int = 0


class ReasoningRawContentDelta(EventMsgBase, tag="reasoning_raw_content_delta"):
    thread_id: str
    turn_id: str
    item_id: str
    delta: str
    content_index: int = 0


# -- tools --------------------------------------------------------------------------------


class ExecCommandBegin(EventMsgBase, tag="exec_command_begin"):
    call_id: str
    command: list[str]
    cwd: str
    parsed_cmd: list[ParsedCommand] = msgspec.field(default_factory=list)
    turn_id: str = ""
    process_id: str | UnsetType = UNSET
    source: str = "agent"
    interaction_input: str | UnsetType = UNSET


class ExecCommandOutputDelta(EventMsgBase, tag="exec_command_output_delta"):
    call_id: str
    stream: str
    chunk: str  # base64 of the raw bytes, as Codex writes it


class TerminalInteraction(EventMsgBase, tag="terminal_interaction"):
    call_id: str
    process_id: str
    stdin: str


class ExecCommandEnd(EventMsgBase, tag="exec_command_end"):
    call_id: str
    exit_code: int
    stdout: str = ""
    stderr: str = ""
    aggregated_output: str = ""
    duration: Duration = msgspec.field(default_factory=Duration)
    formatted_output: str = ""
    command: list[str] = msgspec.field(default_factory=list)
    cwd: str = ""
    parsed_cmd: list[ParsedCommand] = msgspec.field(default_factory=list)
    turn_id: str = ""
    process_id: str | UnsetType = UNSET
    source: str = "agent"
    # Newer Codex: ``completed`` | ``failed`` | ``declined`` (else the exit code says).
    status: str | UnsetType = UNSET


class ExecApprovalRequest(EventMsgBase, tag="exec_approval_request"):
    """The runtime asks whether a command may run (Codex 0.169 never persists these)."""

    call_id: str
    command: list[str]
    cwd: str
    turn_id: str = ""
    approval_id: str | UnsetType = UNSET
    reason: str | UnsetType = UNSET
    proposed_execpolicy_amendment: list[str] | UnsetType = UNSET
    parsed_cmd: list[ParsedCommand] = msgspec.field(default_factory=list)
    available_decisions: list[JsonValue] | UnsetType = UNSET
    additional_permissions: JsonValue | UnsetType = UNSET

    def answer_id(self) -> str:
        """The id an ``exec_approval`` op must carry: ``approval_id``, else ``call_id``."""
        return self.approval_id if isinstance(self.approval_id, str) else self.call_id


class ApplyPatchApprovalRequest(EventMsgBase, tag="apply_patch_approval_request"):
    call_id: str
    changes: dict[str, FileChange]
    turn_id: str = ""
    reason: str | UnsetType = UNSET
    grant_root: str | UnsetType = UNSET


class PatchApplyBegin(EventMsgBase, tag="patch_apply_begin"):
    call_id: str
    changes: dict[str, FileChange]
    auto_approved: bool = False
    turn_id: str = ""


class PatchApplyEnd(EventMsgBase, tag="patch_apply_end"):
    call_id: str
    stdout: str
    stderr: str
    success: bool
    turn_id: str = ""
    changes: dict[str, FileChange] = msgspec.field(default_factory=dict)
    # Newer Codex: ``completed`` | ``failed`` | ``declined`` (else ``success`` says).
    status: str | UnsetType = UNSET


class McpInvocation(Struct):
    server: str
    tool: str
    arguments: JsonValue | UnsetType = UNSET


class McpToolCallBegin(EventMsgBase, tag="mcp_tool_call_begin"):
    call_id: str
    invocation: McpInvocation


class McpToolCallEnd(EventMsgBase, tag="mcp_tool_call_end"):
    call_id: str
    invocation: McpInvocation
    duration: Duration
    result: JsonValue  # serde ``Result``: {"Ok": CallToolResult} or {"Err": "message"}


class WebSearchBegin(EventMsgBase, tag="web_search_begin"):
    call_id: str


class WebSearchEnd(EventMsgBase, tag="web_search_end"):
    call_id: str
    query: str
    action: JsonValue | UnsetType = UNSET


class ViewImageToolCall(EventMsgBase, tag="view_image_tool_call"):
    call_id: str
    path: str


class TurnDiff(EventMsgBase, tag="turn_diff"):
    unified_diff: str


class PlanStep(Struct):
    step: str
    status: str  # pending | in_progress | completed


class PlanUpdate(EventMsgBase, tag="plan_update"):
    plan: list[PlanStep]
    explanation: str | UnsetType | None = UNSET


class RequestUserInputOption(Struct):
    label: str
    description: str


class RequestUserInputQuestion(Struct):
    id: str
    header: str
    question: str
    # The frontend also offers a free-form answer ("None of the above").
    is_other: bool = msgspec.field(default=False, name="isOther")
    is_secret: bool = msgspec.field(default=False, name="isSecret")
    options: list[RequestUserInputOption] | UnsetType = UNSET


class RequestUserInput(EventMsgBase, tag="request_user_input"):
    """The model asks the user (``request_user_input``); a frontend answers with a
    ``user_input_answer`` op naming ``turn_id``."""

    call_id: str
    questions: list[RequestUserInputQuestion]
    turn_id: str = ""


class ElicitationRequest(EventMsgBase, tag="elicitation_request"):
    """An MCP server's question (or the approval of one of its tools). ``message`` is
    the older shape; newer Codex writes the whole question as ``request``
    (``{"mode": "form", "message", "requested_schema", "_meta"?}``), which holds the form
    to fill in. llmx writes both."""

    server_name: str
    id: JsonValue
    message: str = ""
    turn_id: str | UnsetType = UNSET
    request: JsonValue | UnsetType = UNSET

    def text(self) -> str:
        """The question, from whichever shape the line has."""
        if self.message:
            return self.message
        request = self.request
        return str(request.get("message", "")) if isinstance(request, dict) else ""

    def schema(self) -> JsonValue:
        """The form's ``requested_schema`` (None for a yes-or-no question)."""
        request = self.request
        return request.get("requested_schema") if isinstance(request, dict) else None


class McpStartupStatus(Struct):
    """``{"state": "starting" | "ready" | "failed" | "cancelled", "error"?}``."""

    state: str
    error: str | UnsetType = UNSET


class McpStartupUpdate(EventMsgBase, tag="mcp_startup_update"):
    """How one configured MCP server's start goes (Codex's event; llmx records it as the
    turn first sees each state, so a server that joined later is on record)."""

    server: str
    status: McpStartupStatus


# -- accounting ---------------------------------------------------------------------------


class TokenUsageInfo(Struct):
    total_token_usage: TokenUsage
    last_token_usage: TokenUsage
    model_context_window: int | None = None
    last_usage_includes_reasoning: bool | UnsetType = UNSET


class TokenCount(EventMsgBase, tag="token_count"):
    info: TokenUsageInfo | None = None
    rate_limits: JsonValue = None


EventMsg = (
    SessionConfigured
    | TaskStarted
    | TurnStarted
    | TaskComplete
    | TurnComplete
    | TurnAborted
    | ShutdownComplete
    | ErrorEvent
    | WarningEvent
    | StreamError
    | BackgroundEvent
    | DeprecationNotice
    | ThreadSettingsApplied
    | ThreadNameUpdated
    | ThreadRolledBack
    | ContextCompacted
    | UserMessage
    | AgentMessage
    | AgentMessageDelta
    | AgentReasoning
    | AgentReasoningDelta
    | AgentReasoningRawContent
    | AgentReasoningRawContentDelta
    | AgentReasoningSectionBreak
    | ItemStarted
    | ItemCompleted
    | AgentMessageContentDelta
    | ReasoningContentDelta
    | ReasoningRawContentDelta
    | ExecCommandBegin
    | ExecCommandOutputDelta
    | TerminalInteraction
    | ExecCommandEnd
    | ExecApprovalRequest
    | ApplyPatchApprovalRequest
    | PatchApplyBegin
    | PatchApplyEnd
    | McpToolCallBegin
    | McpToolCallEnd
    | WebSearchBegin
    | WebSearchEnd
    | ViewImageToolCall
    | TurnDiff
    | PlanUpdate
    | RequestUserInput
    | ElicitationRequest
    | McpStartupUpdate
    | TokenCount
)


# -- older shapes ----------------------------------------------------------------------------
# Payloads of E0 (mid-2025) that the variant of the same tag above no longer fits. A reader
# that meets a payload its variant rejects (or, for ``token_count``, one without ``info``)
# tries the older shape of that tag (:func:`decode_older_event`).


class McpToolCallBeginE0(Struct):
    """``mcp_tool_call_begin`` with the invocation's fields flat, not in ``invocation``."""

    server: str
    tool: str
    call_id: str = ""
    arguments: JsonValue = None


class McpToolCallEndE0(Struct):
    """``mcp_tool_call_end`` with the invocation's fields flat."""

    server: str
    tool: str
    call_id: str = ""
    arguments: JsonValue = None
    duration: Duration | UnsetType = UNSET
    result: JsonValue = None


class TokenCountE0(Struct):
    """``token_count`` as a bare usage object (``{"type", "input_tokens", ...}``)."""

    input_tokens: int
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0
    total_tokens: int = 0
    cache_write_input_tokens: int | UnsetType = UNSET


OlderEventMsg = McpToolCallBeginE0 | McpToolCallEndE0 | TokenCountE0

_older_event_decoders: dict[str, msgspec.json.Decoder[OlderEventMsg]] = {
    "mcp_tool_call_begin": msgspec.json.Decoder(McpToolCallBeginE0),
    "mcp_tool_call_end": msgspec.json.Decoder(McpToolCallEndE0),
    "token_count": msgspec.json.Decoder(TokenCountE0),
}


def decode_older_event(tag: str | None, payload_raw: bytes) -> OlderEventMsg | None:
    """The ``event_msg`` payload of tag ``tag`` in its older shape; None when it has none
    or the payload does not fit that either."""
    decoder = _older_event_decoders.get(tag or "")
    if decoder is None:
        return None
    try:
        return decoder.decode(payload_raw)
    except DECODE_ERRORS:
        return None


# Partial variants for the session listing, which reads only these fields of the lines
# that hold a user message or the token total (:mod:`llmx.projections.sessions.summary`).


class UserMessageHead(Struct):
    """The text of a ``UserMessage`` and whether it came with images."""

    message: str = ""
    images: list[JsonValue] | None = None
    local_images: list[JsonValue] | None = None


class TokenUsageHead(Struct):
    total_tokens: int = 0


class TokenUsageInfoHead(Struct):
    total_token_usage: TokenUsageHead | None = None


class TokenCountHead(Struct):
    """The thread's token total of a ``TokenCount``."""

    info: TokenUsageInfoHead | None = None


class ItemCompletedHead(Struct):
    """The item of an ``ItemCompleted``, with only the parts a user message's text needs."""

    item: TurnItemTextHead | None = None


# A partial ``EventMsg`` for folds that visit every line: every field optional, so a line
# the full decode would reject still classifies (``tests/events/test_heads.py``).
class EventHead(Struct):
    """The fields of an ``event_msg`` payload that turn segmentation needs.

    ``turn_id``: ``TaskStarted``, ``TaskComplete``, ``TurnAborted``, ``ItemCompleted``...;
    ``num_turns``: ``ThreadRolledBack``; ``item``: ``ItemStarted``/``ItemCompleted``.
    """

    type: str | None = None
    turn_id: str | None = None
    num_turns: int | None = None
    item: TurnItemHead | None = None

    @property
    def item_type(self) -> str | None:
        return None if self.item is None else self.item.type


_event_head_decoder = msgspec.json.Decoder(EventHead)


def decode_event_head(payload_raw: bytes | memoryview) -> EventHead | None:
    """The head of an ``event_msg`` payload; None when its fields have odd types."""
    try:
        return _event_head_decoder.decode(payload_raw)
    except DECODE_ERRORS:
        return None

# Streaming deltas: not persisted unless ``rollout.persist_deltas`` is on.
DELTA_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "agent_message_delta",
        "agent_reasoning_delta",
        "agent_reasoning_raw_content_delta",
        "agent_message_content_delta",
        "reasoning_content_delta",
        "reasoning_raw_content_delta",
        "exec_command_output_delta",
        "plan_delta",
    }
)
