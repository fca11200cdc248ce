"""Rollout lines decoded just enough to fold: kind, ordinal, timestamp and a lazy payload.

The folds here read Codex rollouts of every era and touch only what they restore or
report, so a line is first decoded as an envelope whose ``payload`` stays raw bytes;
the payload is decoded on demand. Payloads are plain JSON values (dicts), so fields this
code does not know are kept exactly as written: resume sends them back to the model.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import msgspec

from llmx.projections.lines import RawLine

JsonObject = dict[str, Any]


class RecordKind(enum.StrEnum):
    """The ``type`` of a rollout line (``RolloutItem`` in Codex)."""

    SESSION_META = "session_meta"
    RESPONSE_ITEM = "response_item"
    COMPACTED = "compacted"
    TURN_CONTEXT = "turn_context"
    EVENT_MSG = "event_msg"
    # Anything else: Codex's newer records (world_state, token_usage_record, ...) and ours.
    OTHER = "other"


_KNOWN_KINDS = {kind.value: kind for kind in RecordKind if kind is not RecordKind.OTHER}

# The ``type`` values of bare ResponseItem lines in the oldest (E0) rollouts.
_BARE_RESPONSE_TYPES = frozenset(
    {
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
        "local_shell_call",
        "custom_tool_call",
        "custom_tool_call_output",
        "web_search_call",
    }
)

# A short-lived Codex format tagged lines with ``record_type`` instead of ``type``.
_RECORD_TYPES = {
    "response": RecordKind.RESPONSE_ITEM,
    "event": RecordKind.EVENT_MSG,
    "session_meta": RecordKind.SESSION_META,
    "prev_session_meta": RecordKind.SESSION_META,
}


class _Envelope(msgspec.Struct):
    type: str | None = None
    ordinal: int | None = None
    timestamp: str | None = None
    payload: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    record_type: str | None = None


class _ItemHead(msgspec.Struct):
    type: str | None = None


class EventHead(msgspec.Struct):
    """The few fields of an ``event_msg`` payload that turn segmentation needs."""

    type: str | None = None
    turn_id: str | None = None
    num_turns: int | None = None
    item: _ItemHead | None = None

    @property
    def item_type(self) -> str | None:
        return None if self.item is None else self.item.type


_NO_EVENT = EventHead()
_envelope_decoder = msgspec.json.Decoder(_Envelope)
_event_head_decoder = msgspec.json.Decoder(EventHead)
_any_decoder = msgspec.json.Decoder()


class CorruptLine(Exception):
    """A line that is not a JSON object; the folds report it and go on."""


@dataclass(slots=True)
class Record:
    """One decoded rollout line."""

    kind: RecordKind
    type_name: str
    """The line's own ``type`` (for OTHER: e.g. ``world_state``)."""
    offset: int
    ordinal: int | None
    timestamp: str | None
    _raw_payload: bytes | None
    _payload: JsonObject | None = field(default=None)
    _event_head: EventHead | None = field(default=None)

    @property
    def payload(self) -> JsonObject:
        """The payload as JSON values, decoded on first use."""
        if self._payload is None:
            decoded = _any_decoder.decode(self._raw_payload) if self._raw_payload else {}
            self._payload = decoded if isinstance(decoded, dict) else {"value": decoded}
            self._raw_payload = None  # decoded once; keep one copy only
        return self._payload

    @property
    def event_head(self) -> EventHead:
        """For ``event_msg`` lines, the event's type and ids, without decoding the rest."""
        if self.kind is not RecordKind.EVENT_MSG:
            return _NO_EVENT
        if self._event_head is None:
            self._event_head = self._decode_event_head()
        return self._event_head

    def _decode_event_head(self) -> EventHead:
        if self._raw_payload is not None:
            try:
                return _event_head_decoder.decode(self._raw_payload)
            except (msgspec.DecodeError, msgspec.ValidationError):
                pass  # odd field types: fall back to the decoded payload below
        payload = self.payload
        value = payload.get("type")
        return EventHead(type=value if isinstance(value, str) else None)

    @property
    def event_type(self) -> str | None:
        """For ``event_msg`` lines, the event's ``type``."""
        return self.event_head.type


def decode_line(line: RawLine) -> Record | None:
    """Decode one line; None for a blank line. Raises :class:`CorruptLine`."""
    if line.is_blank:
        return None
    try:
        envelope = _envelope_decoder.decode(line.data)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise CorruptLine(str(error)) from None
    if len(envelope.payload) and envelope.type is not None:
        kind = _KNOWN_KINDS.get(envelope.type, RecordKind.OTHER)
        return Record(
            kind, envelope.type, line.start, envelope.ordinal, envelope.timestamp,
            bytes(envelope.payload),
        )
    return _decode_legacy(line, envelope)


def _decode_legacy(line: RawLine, envelope: _Envelope) -> Record | None:
    whole = _any_decoder.decode(line.data)
    if not isinstance(whole, dict):
        raise CorruptLine("not a JSON object")
    if envelope.record_type is not None:
        kind = _RECORD_TYPES.get(envelope.record_type)
        if kind is None:  # ``state`` markers carry nothing for the folds
            return None
        body = {k: v for k, v in whole.items() if k not in ("record_type", "timestamp")}
        return Record(kind, kind.value, line.start, None, envelope.timestamp, None, body)
    if envelope.type in _BARE_RESPONSE_TYPES:
        kind = RecordKind.RESPONSE_ITEM
        return Record(kind, kind.value, line.start, None, None, None, whole)
    if envelope.type is None and "id" in whole:
        # The E0 first line: a bare session meta object.
        kind = RecordKind.SESSION_META
        return Record(kind, kind.value, line.start, None, None, None, whole)
    name = envelope.type or "unknown"
    return Record(
        RecordKind.OTHER, name, line.start, envelope.ordinal, envelope.timestamp, None, whole
    )


def ordinal_of(line: RawLine) -> int | None:
    """The ``ordinal`` of a line, or None when it has none or does not decode."""
    try:
        return _envelope_decoder.decode(line.data).ordinal
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
