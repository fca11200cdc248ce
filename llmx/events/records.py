"""Payloads of the rollout line types other than ``response_item`` and ``event_msg``.

Codex's own (``session_meta``, ``turn_context``, ``compacted``, ``world_state``,
``token_usage_record``) and llmx's additions (``submission``, ``escalation``,
``output_ref``, ``writer``, ``decision``, ``model_request``), which sit on lines of their
own ``type`` so Codex's reader skips them.
"""

from __future__ import annotations

import enum

import msgspec
from msgspec import UNSET, Struct, UnsetType

from llmx.events.nesting import DECODE_ERRORS
from llmx.events.ops import Op
from llmx.events.primitives import JsonValue, TokenUsage
from llmx.events.response_items import ResponseItem


class LineType(enum.StrEnum):
    """The ``type`` of a rollout line. Lines of other types load as unknown, untouched."""

    SESSION_META = "session_meta"
    RESPONSE_ITEM = "response_item"
    COMPACTED = "compacted"
    TURN_CONTEXT = "turn_context"
    EVENT_MSG = "event_msg"
    WORLD_STATE = "world_state"
    TOKEN_USAGE_RECORD = "token_usage_record"
    # Codex 0.169: a fact kept outside the model's history (an answered question).
    RETAINED_CONTEXT = "retained_context"
    # E0 marker lines (``{"record_type":"state"}``); carry nothing a reader needs.
    STATE = "state"
    # llmx: a client submission, written before the runtime acts on it.
    SUBMISSION = "submission"
    # llmx: how a command was re-run after a sandbox denial, and who approved it.
    ESCALATION = "escalation"
    # llmx: the full bytes of a capped command output, stored beside the rollout.
    OUTPUT_REF = "output_ref"
    # llmx: which program appends the lines that follow to an existing rollout.
    WRITER = "writer"
    # llmx: how an approval question was settled, and who or what settled it.
    DECISION = "decision"
    # llmx: how one model request went over the wire: its attempts and their events.
    MODEL_REQUEST = "model_request"
    # llmx: a command the sandbox denied as it started, which Codex reports as no item.
    SANDBOX_DENIAL = "sandbox_denial"


# The line types only llmx writes. The Codex CLI skips them when it reads a rollout, and
# numbers what it appends from the last line it knows.
LLMX_ONLY_LINE_TYPES = frozenset({LineType.SUBMISSION, LineType.ESCALATION,
                                  LineType.OUTPUT_REF, LineType.WRITER, LineType.DECISION,
                                  LineType.MODEL_REQUEST, LineType.SANDBOX_DENIAL})


class GitInfo(Struct):
    commit_hash: str | UnsetType = UNSET
    branch: str | UnsetType = UNSET
    repository_url: str | UnsetType = UNSET


class GitInfoHead(Struct):
    """``GitInfo`` as the session listing reads it: each field may also be null."""

    commit_hash: str | None = None
    branch: str | None = None
    repository_url: str | None = None


class HistoryBase(Struct):
    """Where a fork's or revert segment's inherited history ends in the parent file.

    The history is not copied: readers first read the parent ``thread_id``'s lines with
    ordinal below ``end_ordinal_exclusive`` (the bytes before ``end_byte_offset``).
    """

    thread_id: str
    end_ordinal_exclusive: int
    end_byte_offset: int


class HistoryBaseHead(Struct):
    """``HistoryBase`` with its bounds optional: a parent bounded by only one of them can
    still be followed, and one bounded by neither is reported rather than ignored."""

    thread_id: str
    end_ordinal_exclusive: int | None = None
    end_byte_offset: int | None = None


class SessionMeta(Struct):
    """``session_meta`` (``SessionMetaLine``); the first one in a file is canonical."""

    id: str
    timestamp: str = ""
    cwd: str = ""
    originator: str = ""
    cli_version: str = ""
    # ``SessionSource``: "cli", "vscode" (the default when missing), "exec", "mcp", or
    # an object such as {"subagent": "review"}.
    source: JsonValue = "vscode"
    model_provider: str | None = None
    base_instructions: JsonValue = None
    session_id: str | UnsetType = UNSET
    forked_from_id: str | UnsetType = UNSET
    forked_from_ordinal_exclusive: int | UnsetType = UNSET
    thread_source: str | UnsetType = UNSET
    agent_nickname: str | UnsetType = UNSET
    agent_role: str | UnsetType = UNSET
    history_mode: str | UnsetType = UNSET
    history_base: HistoryBase | UnsetType = UNSET
    instructions: str | UnsetType | None = UNSET
    git: GitInfo | UnsetType = UNSET


class SessionMetaHead(Struct):
    """The id and ``history_base`` of a ``SessionMeta``, without its instructions."""

    id: str | None = None
    history_base: HistoryBaseHead | None = None


class SessionMetaSummaryHead(Struct):
    """The fields of a ``SessionMeta`` the session listing stores (every one optional, so
    a meta of an older era still lists)."""

    id: str | None = None
    timestamp: str | None = None
    cwd: str | None = None
    originator: str | None = None
    cli_version: str | None = None
    source: JsonValue = None
    model_provider: str | None = None
    agent_nickname: str | None = None
    agent_role: str | None = None
    forked_from_id: str | None = None
    history_mode: str | None = None
    git: GitInfoHead | None = None


_session_meta_head_decoder = msgspec.json.Decoder(SessionMetaHead)


def decode_session_meta_head(payload_raw: bytes) -> SessionMetaHead | None:
    """The head of a ``session_meta`` payload; None when its fields have odd types."""
    try:
        return _session_meta_head_decoder.decode(payload_raw)
    except DECODE_ERRORS:
        return None


class TurnContext(Struct):
    """``turn_context`` (``TurnContextItem``): the settings of a turn, for resume."""

    cwd: str
    approval_policy: JsonValue
    sandbox_policy: JsonValue
    model: str
    summary: JsonValue = "auto"
    turn_id: str | UnsetType = UNSET
    current_date: str | UnsetType = UNSET
    timezone: str | UnsetType = UNSET
    effort: str | UnsetType | None = UNSET
    network: JsonValue | UnsetType = UNSET
    personality: JsonValue | UnsetType = UNSET
    collaboration_mode: JsonValue | UnsetType = UNSET
    permission_profile: JsonValue | UnsetType = UNSET
    approvals_reviewer: str | UnsetType = UNSET
    user_instructions: str | UnsetType = UNSET
    developer_instructions: str | UnsetType = UNSET
    final_output_json_schema: JsonValue | UnsetType = UNSET
    truncation_policy: JsonValue | UnsetType = UNSET

    def reasoning_effort(self) -> str | None:
        """The turn's reasoning effort: ``effort``, else its collaboration mode's."""
        if isinstance(self.effort, str):
            return self.effort
        mode = self.collaboration_mode
        settings = mode.get("settings") if isinstance(mode, dict) else None
        effort = settings.get("reasoning_effort") if isinstance(settings, dict) else None
        return effort if isinstance(effort, str) else None


class TurnContextHead(Struct):
    """The fields of a ``TurnContext`` that turn segmentation needs, without the rest."""

    turn_id: str | None = None
    model: str | None = None


class TurnContextSummaryHead(Struct):
    """The fields of a ``TurnContext`` the session listing stores."""

    cwd: str | None = None
    approval_policy: JsonValue = None
    sandbox_policy: JsonValue = None
    permission_profile: JsonValue = None
    model: str | None = None
    effort: str | None = None


class Compacted(Struct):
    """``compacted``: a summary, and since mid-2026 the full replacement history."""

    message: str
    replacement_history: list[ResponseItem] | UnsetType = UNSET


class WorldState(Struct):
    """``world_state`` (E3): the environment the model was told about; opaque to llmx."""

    state: JsonValue
    full: bool = True


class VerifiedQuestionAnswer(Struct):
    """One answered question: its text (with each chosen option's ``label: description``
    on a line of its own) and the answers given, one per line."""

    question: str
    answer: str


class RetainedVerifiedAnswer(Struct, tag_field="type", tag="verified_answer"):
    """``retained_context`` (Codex 0.169) of type ``verified_answer``: the user's answers to
    a ``request_user_input`` call, as the host received them. Kept outside the model's
    history (the model gets the answers as the call's output); folded back on resume.
    ``acceptance_order`` is Codex's counter of accepted inputs, which llmx does not keep
    (absent: ordered as recorded, as Codex reads its own older lines)."""

    turn_id: str
    call_id: str
    questions: list[VerifiedQuestionAnswer]
    acceptance_order: int | UnsetType = UNSET


class TokenUsageRecord(Struct):
    """``token_usage_record`` (E3): usage of one model response, with running totals."""

    thread_id: str
    turn_id: str
    usage: TokenUsage
    turn_token_usage: TokenUsage
    thread_token_usage: TokenUsage
    session_id: str | UnsetType = UNSET
    root_turn_id: str | UnsetType = UNSET
    response_id: str | UnsetType = UNSET


class Approver(enum.StrEnum):
    """Who decided an approval request, or allowed an escalation."""

    # A person answered the approval request (see ``decision_submission_id``).
    USER = "user"
    # An earlier ``approved_for_session`` answer covered this command.
    SESSION = "session"
    # An exec-policy rule (``prefix_rule``) allowed it.
    RULE = "rule"
    # The approval policy settled it without asking anyone: no approval was needed, or
    # asking was not allowed and it was refused (``never``; a read-only sandbox's patch).
    POLICY = "policy"
    # The client of ``llmx app-server`` answered the approval request.
    CLIENT = "client"
    # An answer given before the run (``exec --approval-decision``).
    PRESET = "preset"
    # Nobody could be asked (``exec`` off a terminal, no preset answer left): refused.
    UNATTENDED = "unattended"


class SubmissionRecord(Struct):
    """``submission`` (llmx): ``{"id", "op"}``, logged before the runtime acts on it."""

    id: str
    op: Op
    # Who answered, on the submission of an approval decision.
    decided_by: Approver | UnsetType = UNSET


class ExecutionMode(enum.StrEnum):
    """How an escalated command was re-run."""

    # No sandbox at all.
    UNSANDBOXED = "unsandboxed"
    # The turn's own sandbox policy (for example a retry after a transient failure).
    TURN_DEFAULT = "turn_default"
    # The turn's policy plus the bounded extra permissions in ``permissions``.
    BOUNDED = "bounded"


class EscalationRecord(Struct):
    """``escalation`` (llmx): which execution mode a re-run used, and on whose authority."""

    call_id: str
    mode: ExecutionMode
    approved_by: Approver
    turn_id: str = ""
    # The extra permissions granted (BOUNDED), or the effective policy; null if none.
    permissions: JsonValue = None
    command: list[str] | UnsetType = UNSET
    reason: str | UnsetType = UNSET
    # The ``submission`` line id whose decision approved this (USER approvals).
    decision_submission_id: str | UnsetType = UNSET


class OutputRef(Struct):
    """``output_ref`` (llmx): a capped output's full bytes, content-addressed.

    The bytes are in ``<rollout file without .jsonl>.blobs/<sha256>`` next to the rollout
    file; ``field`` names what was capped (``aggregated_output``, ``output``...).
    """

    call_id: str
    sha256: str
    size: int
    inline_size: int
    field: str = "aggregated_output"


class WriterRecord(Struct):
    """``writer`` (llmx): the program that appends the lines after it to an existing
    rollout, in Codex's own terms (``session_meta.originator`` and ``cli_version``).

    ``session_meta`` names the program that started the thread; when another one (llmx
    resuming a Codex session, or another llmx version) runs later turns, this line says so.
    """

    originator: str
    cli_version: str
    # The names of the tools the turn offers the model (what ``llmx inspect`` shows);
    # absent before a turn that sends none (a compaction) and in older rollouts.
    tools: list[str] | UnsetType = UNSET


class DecisionRecord(Struct):
    """``decision`` (llmx): the outcome of one approval question, on whose authority.

    Written for every question the approval machinery settled, asked or not: a refusal by
    the policy has no request and no submission, and is still on record.
    """

    call_id: str
    # ``command`` (exec_command) or ``patch`` (apply_patch).
    subject: str
    # A ``ReviewDecision`` value: approved, approved_for_session, denied, abort.
    decision: str
    decided_by: Approver
    turn_id: str = ""
    # The ``submission`` line of the answer, when one was asked for (user, client, preset,
    # unattended).
    submission_id: str | UnsetType = UNSET
    # Why, in words, when the decision was not a person's (the policy's refusal text).
    reason: str | UnsetType = UNSET


class SandboxDenialRecord(Struct):
    """``sandbox_denial`` (llmx): a sandboxed ``exec_command`` that ended as it started
    (within ``EARLY_EXIT_MS``) with output that reads as the sandbox's refusal.

    Codex 0.169 reports such a command as no item at all (no begin, no end: its unified
    exec treats it as a failed start), and its output reaches the model only as the call's
    output. llmx does the same on every frontend and keeps the attempt on record here; the
    output itself is the call's ``function_call_output``.
    """

    call_id: str
    command: list[str]
    cwd: str
    exit_code: int
    duration_ms: int
    turn_id: str = ""


class SseRun(Struct):
    """Consecutive server-sent events of one ``kind`` (the ``event:`` name; ``""`` when
    the stream broke before an event arrived): how long each was waited for, in ms.
    A failed event (``response.failed``, data that is not JSON, an idle timeout) is a run
    of its own with its ``error``."""

    kind: str
    ms: list[int]
    error: str | UnsetType = UNSET


class RequestAttempt(Struct):
    """One attempt of a model request: sent at ``started_ms`` (Unix ms), answered with
    ``status`` after ``duration_ms`` (no status: never answered), and the events of its
    stream in order."""

    started_ms: int
    duration_ms: int
    status: int | UnsetType = UNSET
    error: str | UnsetType = UNSET
    sse: list[SseRun] = []


class ModelRequestRecord(Struct):
    """``model_request`` (llmx): how one sampling request went, written when it ended
    (after the response's ``token_count``, or before the ``error`` of a request that
    failed): every attempt, retries included. Telemetry reads it (``codex.api_request``
    and ``codex.sse_event`` in OpenTelemetry); the conversation does not depend on it."""

    endpoint: str
    attempts: list[RequestAttempt]
    # True when the last attempt's response completed (the request succeeded).
    completed: bool = False
    turn_id: str = ""
