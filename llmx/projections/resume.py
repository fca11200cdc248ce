"""The resume fold: the model-context history and settings a resumed session starts from.

This follows Codex's newest reconstruction (spec 2.9). The rollout is read from its end:
lines are grouped into turn segments (a segment ends at its ``task_started``), rollback
markers skip the newest N user-turn segments, the newest surviving ``compacted`` line
with a ``replacement_history`` becomes the base, and the newest surviving
``turn_context`` gives the settings baseline. Once all three are known, older lines
cannot change the result, so reading stops there: the cost follows what is restored,
not the size of the file. The buffered tail is then replayed forward on the base.

Only the lines that are restored get their payload decoded; everything else is
classified from a small envelope.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmx.events.lines import LineError, decode_line
from llmx.events.reverse_reader import RawLine, ReverseRolloutReader, read_lines_forward
from llmx.projections.lineage import RolloutSpan, resolve_lineage
from llmx.projections.records import Record, RecordKind, record_of
from llmx.projections.turns import (
    collect_user_messages,
    compacted_history,
    drop_last_user_turns,
)

JsonObject = dict[str, Any]

# ResponseItem types Codex keeps in model context; anything else (``ghost_snapshot``,
# ``compaction_trigger``, types it does not know) is dropped when recorded.
_CONTEXT_ITEM_TYPES = frozenset(
    {
        "message",
        "agent_message",
        "reasoning",
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
        "local_shell_call",
        "tool_search_call",
        "tool_search_output",
        "web_search_call",
        "image_generation_call",
        "compaction",
        "compaction_summary",
        "context_compaction",
    }
)
_TURN_START_EVENTS = frozenset({"task_started", "turn_started"})
_TURN_END_EVENTS = frozenset({"task_complete", "turn_complete"})
_TOKEN_COUNT_MARK = b'"token_count"'


class _Reference(enum.Enum):
    # No turn_context seen for this span yet.
    NEVER_SET = enum.auto()
    # A baseline existed but a later compaction invalidated it.
    CLEARED = enum.auto()
    SET = enum.auto()


@dataclass(slots=True)
class _Segment:
    turn_id: str | None = None
    counts_as_user_turn: bool = False
    previous_model: str | None = None
    reference: _Reference = _Reference.NEVER_SET
    reference_context: JsonObject | None = None
    base: list[JsonObject] | None = None
    # How many suffix records were buffered when the base was found: older records of
    # the same segment precede the compaction and are replaced by it.
    base_position: int = 0


@dataclass(frozen=True, slots=True)
class ResumeSettings:
    """The turn settings a resumed session inherits (from the newest surviving turn context)."""

    model: str | None
    model_provider: str | None
    cwd: str | None
    approval_policy: str | None
    approvals_reviewer: str | None
    sandbox_policy: Any
    permission_profile: Any
    effort: str | None
    summary: str | None
    personality: str | None


@dataclass(frozen=True, slots=True)
class SkippedLine:
    """A line the fold could not decode; it is skipped, never repaired."""

    path: Path
    offset: int
    reason: str


@dataclass(slots=True)
class ResumeState:
    thread_id: str | None
    history: list[JsonObject]
    """Model-context items, oldest first, exactly as recorded (unknown fields kept)."""
    reference_context: JsonObject | None
    """The newest surviving ``turn_context`` payload; None when a compaction cleared it."""
    previous_model: str | None
    settings: ResumeSettings
    token_usage: JsonObject | None
    """``info`` of the last ``token_count`` that has one."""
    session_meta: JsonObject | None
    spans: list[RolloutSpan]
    lines_read: int = 0
    skipped: list[SkippedLine] = field(default_factory=list)
    torn_tail: bool = False


@dataclass(slots=True)
class _Scan:
    """What the reverse scan has established so far."""

    base: list[JsonObject] | None = None
    previous_model: str | None = None
    reference: _Reference = _Reference.NEVER_SET
    reference_context: JsonObject | None = None
    pending_rollback: int = 0
    suffix_newest_first: list[Record] = field(default_factory=list)
    token_usage: JsonObject | None = None

    def complete(self) -> bool:
        return (
            self.base is not None
            and self.previous_model is not None
            and self.reference is not _Reference.NEVER_SET
        )

    def finalize(self, segment: _Segment) -> None:
        if self.pending_rollback > 0:
            if segment.counts_as_user_turn:
                self.pending_rollback -= 1
            return
        if self.base is None and segment.base is not None:
            self.base = segment.base
            del self.suffix_newest_first[segment.base_position :]
        if self.previous_model is None and segment.counts_as_user_turn:
            self.previous_model = segment.previous_model
        if self.reference is _Reference.NEVER_SET and (
            segment.counts_as_user_turn or segment.reference is _Reference.CLEARED
        ):
            self.reference = segment.reference
            self.reference_context = segment.reference_context


def _compatible(active: str | None, other: str | None) -> bool:
    return active is None or other is None or active == other


def _is_user_turn_event(record: Record) -> bool:
    event = record.event_type
    if event == "user_message":
        return True
    # Paginated rollouts (Codex 0.147+) persist the turn item instead of the legacy event.
    return event == "item_completed" and record.event_head.item_type == "UserMessage"


def _scan_backward(records: Iterable[Record]) -> _Scan:
    scan = _Scan()
    active: _Segment | None = None
    records = iter(records)
    for record in records:
        buffer = True
        kind = record.kind
        if kind is RecordKind.COMPACTED:
            active = active or _Segment()
            if active.reference is _Reference.NEVER_SET:
                active.reference = _Reference.CLEARED
            replacement = record.payload.get("replacement_history")
            if active.base is None and isinstance(replacement, list):
                active.base = replacement
                active.base_position = len(scan.suffix_newest_first)
                buffer = False
        elif kind is RecordKind.TURN_CONTEXT:
            active = active or _Segment()
            turn_id = record.payload.get("turn_id")
            if active.turn_id is None:
                active.turn_id = turn_id
                active.counts_as_user_turn = True
            if _compatible(active.turn_id, turn_id):
                active.previous_model = record.payload.get("model")
                if active.reference is _Reference.NEVER_SET:
                    active.reference = _Reference.SET
                    active.reference_context = record.payload
        elif kind is RecordKind.EVENT_MSG:
            head = record.event_head
            event = head.type
            if event == "thread_rolled_back":
                scan.pending_rollback += head.num_turns or 0
            elif event in _TURN_START_EVENTS:
                turn_id = head.turn_id
                if active is not None and _compatible(active.turn_id, turn_id):
                    scan.finalize(active)
                    active = None
            elif event in _TURN_END_EVENTS:
                active = active or _Segment()
                if active.turn_id is None:
                    active.turn_id = head.turn_id
            elif event == "turn_aborted":
                turn_id = head.turn_id
                if active is not None:
                    if active.turn_id is None and turn_id:
                        active.turn_id = turn_id
                elif turn_id:
                    active = _Segment(turn_id=turn_id)
            elif event == "token_count" and scan.token_usage is None:
                info = record.payload.get("info")
                if isinstance(info, dict):
                    scan.token_usage = info
            elif _is_user_turn_event(record):
                active = active or _Segment()
                active.counts_as_user_turn = True
        if scan.complete():
            break
        # Only these change history on replay; keeping nothing else bounds memory by
        # what is restored.
        if buffer and (
            kind is RecordKind.RESPONSE_ITEM
            or kind is RecordKind.COMPACTED
            or (kind is RecordKind.EVENT_MSG and record.event_type == "thread_rolled_back")
        ):
            scan.suffix_newest_first.append(record)
    if active is not None:
        scan.finalize(active)
    return scan


def _replay(
    scan: _Scan, initial_context: Sequence[JsonObject]
) -> list[JsonObject]:
    history: list[JsonObject] = list(scan.base) if scan.base is not None else []
    for record in reversed(scan.suffix_newest_first):
        if record.kind is RecordKind.RESPONSE_ITEM:
            item = record.payload
            if item.get("type") in _CONTEXT_ITEM_TYPES and not (
                item.get("type") == "message" and item.get("role") == "system"
            ):
                history.append(item)
        elif record.kind is RecordKind.COMPACTED:
            replacement = record.payload.get("replacement_history")
            if isinstance(replacement, list):
                history = list(replacement)
            else:
                summary = record.payload.get("message")
                history = compacted_history(
                    initial_context,
                    collect_user_messages(history),
                    summary if isinstance(summary, str) else "",
                )
        elif record.event_type == "thread_rolled_back":
            history = drop_last_user_turns(history, record.event_head.num_turns or 0)
    return history


def fold_resume_records(
    records_newest_first: Iterable[Record], initial_context: Sequence[JsonObject] = ()
) -> tuple[list[JsonObject], JsonObject | None, str | None, JsonObject | None]:
    """The pure fold: (history, reference context, previous model, token usage).

    ``initial_context`` is what a compaction without replacement history rebuilds on (in
    Codex, the context the resuming session would inject for a new conversation).
    """
    scan = _scan_backward(records_newest_first)
    history = _replay(scan, initial_context)
    return history, scan.reference_context, scan.previous_model, scan.token_usage


class _Reader:
    """Feeds the fold records newest first, span by span, and keeps count of what it read.

    The event store's reverse reader finds the torn tail and the lines that do not
    decode; the fold only classifies what decodes.
    """

    def __init__(self, spans: Sequence[RolloutSpan]) -> None:
        self._readers = [
            (span, ReverseRolloutReader(span.path, end_offset=span.end))
            for span in reversed(spans)
        ]
        self._lines = self._raw_lines()

    def _raw_lines(self) -> Iterator[tuple[ReverseRolloutReader, RawLine]]:
        for _span, reader in self._readers:
            for raw in reader.raw_lines():
                yield reader, raw

    def records(self) -> Iterable[Record]:
        for reader, raw in self._lines:
            line = reader.decode(raw)
            if line is None:
                continue
            record = record_of(line, raw.start)
            if record is not None:
                yield record

    def last_token_usage(self) -> JsonObject | None:
        """Keep reading, cheaply, for a ``token_count`` the fold did not reach."""
        for reader, raw in self._lines:
            if _TOKEN_COUNT_MARK not in raw.data:
                continue
            line = reader.decode(raw)
            record = None if line is None else record_of(line, raw.start)
            if record is not None and record.event_type == "token_count":
                info = record.payload.get("info")
                if isinstance(info, dict):
                    return info
        return None

    @property
    def lines_read(self) -> int:
        return sum(reader.lines_read for _span, reader in self._readers)

    @property
    def torn_tail(self) -> bool:
        # A parent's span ends on a line boundary by construction; only the file itself
        # can end in a torn write.
        return any(
            reader.torn_tail is not None for span, reader in self._readers if not span.inherited
        )

    @property
    def skipped(self) -> list[SkippedLine]:
        return [
            SkippedLine(span.path, problem.offset, problem.reason)
            for span, reader in reversed(self._readers)
            for problem in reader.problems
        ]


def read_session_meta(spans: Sequence[RolloutSpan]) -> JsonObject | None:
    """The leaf file's first ``session_meta`` (a fork's own meta, not its parent's)."""
    leaf = spans[-1]
    for raw in read_lines_forward(leaf.path, end=leaf.end, block_size=1 << 16):
        if raw.is_blank:
            continue
        try:
            line = decode_line(raw.data)
        except LineError:
            return None
        record = record_of(line, raw.start)
        if record is None:
            continue
        return record.payload if record.kind is RecordKind.SESSION_META else None
    return None


def context_effort(context: JsonObject) -> Any:
    """A ``turn_context``'s reasoning effort: its own field, else its collaboration mode's."""
    effort = context.get("effort")
    if effort is None:
        mode = context.get("collaboration_mode")
        mode_settings = mode.get("settings") if isinstance(mode, dict) else None
        if isinstance(mode_settings, dict):
            effort = mode_settings.get("reasoning_effort")
    return effort


def _settings(meta: JsonObject | None, context: JsonObject | None) -> ResumeSettings:
    meta = meta or {}
    context = context or {}
    effort = context_effort(context)
    return ResumeSettings(
        model=context.get("model"),
        model_provider=meta.get("model_provider"),
        cwd=context.get("cwd", meta.get("cwd")),
        approval_policy=context.get("approval_policy"),
        approvals_reviewer=context.get("approvals_reviewer"),
        sandbox_policy=context.get("sandbox_policy"),
        permission_profile=context.get("permission_profile"),
        effort=effort,
        summary=context.get("summary"),
        personality=context.get("personality"),
    )


def fold_resume(
    path: Path,
    *,
    search_roots: Sequence[Path] = (),
    initial_context: Sequence[JsonObject] = (),
) -> ResumeState:
    """Resume state of the rollout at ``path``, following ``history_base`` to its parents.

    Raises :class:`~llmx.projections.lineage.LineageError` when a parent is missing and
    ``OSError`` when the file cannot be read.
    """
    spans = resolve_lineage(path, search_roots)
    reader = _Reader(spans)
    history, context, previous_model, usage = fold_resume_records(
        reader.records(), initial_context
    )
    if usage is None:
        usage = reader.last_token_usage()
    meta = read_session_meta(spans)
    thread_id = meta.get("id") if meta else None
    return ResumeState(
        thread_id=thread_id if isinstance(thread_id, str) else None,
        history=history,
        reference_context=context,
        previous_model=previous_model,
        settings=_settings(meta, context),
        token_usage=usage,
        session_meta=meta,
        spans=spans,
        lines_read=reader.lines_read,
        skipped=reader.skipped,
        torn_tail=reader.torn_tail,
    )


# What Codex removes from a recorded item before sending it to the model: an internal
# field of 0.169 that rides along on every item it writes.
_INTERNAL_FIELDS = ("internal_chat_message_metadata_passthrough",)
_CALL_OUTPUTS = {
    "function_call": "function_call_output",
    "custom_tool_call": "custom_tool_call_output",
    "local_shell_call": "function_call_output",
}


def prompt_input(history: Sequence[JsonObject]) -> list[JsonObject]:
    """History as sent to the model: internal fields stripped, calls and outputs paired.

    Every call gets an output (Codex answers an unanswered one with ``"aborted"``) and
    outputs whose call is gone are dropped, as Codex normalises before each request.
    """
    cleaned = [
        {key: value for key, value in item.items() if key not in _INTERNAL_FIELDS}
        for item in history
    ]
    call_ids = {
        item.get("call_id") for item in cleaned if item.get("type") in _CALL_OUTPUTS
    }
    output_ids = {
        item.get("call_id")
        for item in cleaned
        if item.get("type") in ("function_call_output", "custom_tool_call_output")
    }
    result: list[JsonObject] = []
    for item in cleaned:
        kind = item.get("type")
        if kind in ("function_call_output", "custom_tool_call_output") and (
            item.get("call_id") not in call_ids
        ):
            continue
        result.append(item)
        if kind in _CALL_OUTPUTS and item.get("call_id") and item.get("call_id") not in output_ids:
            result.append(
                {"type": _CALL_OUTPUTS[str(kind)], "call_id": item["call_id"], "output": "aborted"}
            )
    return result
