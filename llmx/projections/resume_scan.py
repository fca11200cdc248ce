"""The two passes of the resume fold: a reverse scan over line payloads, a forward replay.

The scan (spec 2.9) groups lines newest first into turn segments (a segment ends at its
``task_started``), lets rollback markers skip the newest N user-turn segments, and stops
once the base (the newest surviving ``compacted`` line with a ``replacement_history``),
the previous model and the settings baseline (the newest surviving ``turn_context``) are
known. It reads each line's payload only as far as a partial head (the event store's
``*Head`` Structs, beside the full ones) and keeps, of everything it passes, only the
payload bytes of what replay needs (response items, compactions, rollbacks): memory follows what is
restored. The replay then rebuilds history on the base, in whichever representation an
:class:`~llmx.projections.resume_items.ItemCodec` holds items.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import msgspec

from llmx.events.event_msgs import EventHead, decode_event_head
from llmx.events.records import TurnContextHead
from llmx.projections.fold_lines import RecordKind
from llmx.projections.resume_items import ItemCodec
from llmx.projections.turns import (
    collect_user_messages_of,
    compacted_history,
    drop_last_user_turns_of,
)

JsonObject = dict[str, Any]
ItemT = TypeVar("ItemT")

# The JSON of a payload: bytes, or a view of the line it sits in (copied only when kept).
Payload = bytes | memoryview
# A line the scan reads: its kind and its payload.
ScanLine = tuple[RecordKind, Payload]

_TURN_START_EVENTS = frozenset({"task_started", "turn_started"})
_TURN_END_EVENTS = frozenset({"task_complete", "turn_complete"})

_any_decoder = msgspec.json.Decoder()
_turn_context_head_decoder = msgspec.json.Decoder(TurnContextHead)


class _CompactedHead(msgspec.Struct):
    message: Any = None
    replacement_history: list[msgspec.Raw] | None = None


_compacted_head_decoder = msgspec.json.Decoder(_CompactedHead)


class Compaction(msgspec.Struct, frozen=True):
    """A ``compacted`` line: the history it replaces everything with, or only a summary."""

    replacement: Sequence[msgspec.Raw] | None
    message: str


class Rollback(msgspec.Struct, frozen=True):
    num_turns: int


def compaction_of(payload: Payload) -> Compaction:
    try:
        head = _compacted_head_decoder.decode(payload)
        replacement, message = head.replacement_history, head.message
    except (msgspec.DecodeError, msgspec.ValidationError):
        value = _any_decoder.decode(payload)
        value = value if isinstance(value, dict) else {}
        history = value.get("replacement_history")
        replacement = (
            [msgspec.Raw(msgspec.json.encode(item)) for item in history]
            if isinstance(history, list)
            else None
        )
        message = value.get("message")
    return Compaction(replacement, message if isinstance(message, str) else "")


def _event_head(payload: Payload) -> EventHead:
    head = decode_event_head(payload)
    if head is not None:
        return head
    # Odd field types: only the event's type, from the decoded payload.
    value = _any_decoder.decode(payload)
    kind = value.get("type") if isinstance(value, dict) else None
    return EventHead(type=kind if isinstance(kind, str) else None)


def _turn_context_head(payload: Payload) -> tuple[Any, Any]:
    try:
        head = _turn_context_head_decoder.decode(payload)
        return head.turn_id, head.model
    except (msgspec.DecodeError, msgspec.ValidationError):
        value = _any_decoder.decode(payload)
        value = value if isinstance(value, dict) else {}
        return value.get("turn_id"), value.get("model")


class _Reference(enum.Enum):
    # No turn_context seen for this span yet.
    NEVER_SET = enum.auto()
    # A baseline existed but a later compaction invalidated it.
    CLEARED = enum.auto()
    SET = enum.auto()


class _Segment(msgspec.Struct):
    turn_id: Any = None
    counts_as_user_turn: bool = False
    previous_model: Any = None
    reference: _Reference = _Reference.NEVER_SET
    reference_payload: bytes | None = None
    base: Sequence[msgspec.Raw] | None = None
    # How many suffix entries were buffered when the base was found: older entries of
    # the same segment precede the compaction and are replaced by it.
    base_position: int = 0


class Scan(msgspec.Struct):
    """What the reverse scan established."""

    base: Sequence[msgspec.Raw] | None = None
    previous_model: Any = None
    reference: _Reference = _Reference.NEVER_SET
    reference_payload: bytes | None = None
    pending_rollback: int = 0
    # Response item payloads, compactions and rollbacks after the base, newest first.
    suffix_newest_first: list[bytes | Compaction | Rollback] = msgspec.field(default_factory=list)
    # How many suffix entries are newer than the base, once it is found: what the scan
    # passes after that (older turns, read on for the model and the settings) is replaced
    # by the base and never replayed.
    base_position: int | None = None
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
            self.base_position = segment.base_position
        if self.previous_model is None and segment.counts_as_user_turn:
            self.previous_model = segment.previous_model
        if self.reference is _Reference.NEVER_SET and (
            segment.counts_as_user_turn or segment.reference is _Reference.CLEARED
        ):
            self.reference = segment.reference
            self.reference_payload = segment.reference_payload

    def reference_context(self) -> JsonObject | None:
        """The surviving ``turn_context`` payload, decoded (the only one that is)."""
        if self.reference_payload is None:
            return None
        value = _any_decoder.decode(self.reference_payload)
        return value if isinstance(value, dict) else {"value": value}


def _compatible(active: Any, other: Any) -> bool:
    return active is None or other is None or active == other


def _is_user_turn_event(head: EventHead) -> bool:
    if head.type == "user_message":
        return True
    # Paginated rollouts (Codex 0.147+) persist the turn item instead of the legacy event.
    return head.type == "item_completed" and head.item_type == "UserMessage"


def scan_backward(lines: Iterable[ScanLine]) -> Scan:
    """Scan lines given newest first, stopping as soon as older lines cannot matter."""
    scan = Scan()
    suffix = scan.suffix_newest_first
    active: _Segment | None = None
    response_item, event_msg = RecordKind.RESPONSE_ITEM, RecordKind.EVENT_MSG
    for kind, payload in lines:
        if kind is response_item:
            # The common line: nothing to classify, only kept for replay.
            suffix.append(bytes(payload))
            continue
        if kind is event_msg:
            head = _event_head(payload)
            event = head.type
            if event == "thread_rolled_back":
                scan.pending_rollback += head.num_turns or 0
                suffix.append(Rollback(head.num_turns or 0))
            elif event in _TURN_START_EVENTS:
                if active is not None and _compatible(active.turn_id, head.turn_id):
                    scan.finalize(active)
                    active = None
                    if scan.complete():
                        break
            elif event in _TURN_END_EVENTS:
                active = active or _Segment()
                if active.turn_id is None:
                    active.turn_id = head.turn_id
            elif event == "turn_aborted":
                if active is not None:
                    if active.turn_id is None and head.turn_id:
                        active.turn_id = head.turn_id
                elif head.turn_id:
                    active = _Segment(turn_id=head.turn_id)
            elif event == "token_count":
                if scan.token_usage is None:
                    scan.token_usage = token_usage_of(payload)
            elif _is_user_turn_event(head):
                active = active or _Segment()
                active.counts_as_user_turn = True
        elif kind is RecordKind.TURN_CONTEXT:
            active = active or _Segment()
            turn_id, model = _turn_context_head(payload)
            if active.turn_id is None:
                active.turn_id = turn_id
                active.counts_as_user_turn = True
            if _compatible(active.turn_id, turn_id):
                active.previous_model = model
                if active.reference is _Reference.NEVER_SET:
                    active.reference = _Reference.SET
                    active.reference_payload = bytes(payload)
        elif kind is RecordKind.COMPACTED:
            active = active or _Segment()
            if active.reference is _Reference.NEVER_SET:
                active.reference = _Reference.CLEARED
            compaction = compaction_of(payload)
            if active.base is None and compaction.replacement is not None:
                active.base = compaction.replacement
                active.base_position = len(suffix)
            else:
                suffix.append(compaction)
    if active is not None:
        scan.finalize(active)
    if scan.base_position is not None:
        del suffix[scan.base_position :]
    return scan


def token_usage_of(payload: Payload) -> JsonObject | None:
    """``info`` of a ``token_count`` payload, when it has one."""
    value = _any_decoder.decode(payload)
    info = value.get("info") if isinstance(value, dict) else None
    return info if isinstance(info, dict) else None


def replay(
    scan: Scan, codec: ItemCodec[ItemT], initial_context: Sequence[JsonObject]
) -> list[ItemT]:
    """History rebuilt forward from the base over the buffered suffix."""
    history: list[ItemT] = codec.replacement(scan.base) if scan.base is not None else []
    recorded = codec.recorded
    for entry in reversed(scan.suffix_newest_first):
        if type(entry) is bytes:
            item = recorded(entry)
            if item is not None:
                history.append(item)
        elif isinstance(entry, Compaction):
            if entry.replacement is not None:
                history = codec.replacement(entry.replacement)
            else:
                rebuilt = compacted_history(
                    initial_context,
                    collect_user_messages_of(history, codec.view),
                    entry.message,
                )
                history = [codec.from_dict(item) for item in rebuilt]
        elif isinstance(entry, Rollback):
            history = drop_last_user_turns_of(history, entry.num_turns, codec.view)
    return history
