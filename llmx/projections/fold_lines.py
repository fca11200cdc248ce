"""Rollout lines decoded just enough to fold: kind, ordinal, timestamp and a lazy payload.

Lines are decoded by the event store's codec (:func:`llmx.events.decode_line`, which
knows every era); this module only classifies them for the folds and hands out payloads
as plain JSON values (dicts), so fields this code does not know are kept exactly as
written: resume sends them back to the model. The other folds read typed payloads
(:meth:`llmx.events.lines.RolloutLine.read_item`).
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from llmx.events.lines import Era, RolloutLine
from llmx.events.records import LineType

JsonObject = dict[str, Any]


class RecordKind(enum.StrEnum):
    """The ``type`` of a rollout line (``RolloutItem`` in Codex) the folds act on."""

    SESSION_META = LineType.SESSION_META.value
    RESPONSE_ITEM = LineType.RESPONSE_ITEM.value
    COMPACTED = LineType.COMPACTED.value
    TURN_CONTEXT = LineType.TURN_CONTEXT.value
    EVENT_MSG = LineType.EVENT_MSG.value
    # Anything else: Codex's newer records (world_state, token_usage_record, ...) and ours.
    OTHER = "other"


_KNOWN_KINDS = {kind.value: kind for kind in RecordKind if kind is not RecordKind.OTHER}
# The envelope keys of the short-lived ``record_type`` variant, which has no ``payload``:
# its fields sit next to these.
_RECORD_TYPE_ENVELOPE = ("record_type", "timestamp")

_any_decoder = msgspec.json.Decoder()


class Record(msgspec.Struct):
    """One decoded rollout line."""

    kind: RecordKind
    type_name: str
    """The line's own ``type`` (for OTHER: e.g. ``world_state``)."""
    offset: int
    ordinal: int | None
    timestamp: str | None
    _raw_payload: bytes | None
    _flattened: bool = False
    _payload: JsonObject | None = msgspec.field(default=None)

    @property
    def payload(self) -> JsonObject:
        """The payload as JSON values, decoded on first use."""
        if self._payload is None:
            decoded = _any_decoder.decode(self._raw_payload) if self._raw_payload else {}
            if not isinstance(decoded, dict):
                decoded = {"value": decoded}
            elif self._flattened:
                decoded = {k: v for k, v in decoded.items() if k not in _RECORD_TYPE_ENVELOPE}
            self._payload = decoded
            self._raw_payload = None  # decoded once; keep one copy only
        return self._payload


def record_of(line: RolloutLine, offset: int) -> Record | None:
    """The fold's view of a decoded line at byte ``offset``; None for lines that carry
    nothing for the folds (``state`` markers, objects of no known shape)."""
    line_type = line.type
    if line_type == LineType.STATE or line.era is Era.UNKNOWN:
        return None
    kind = _KNOWN_KINDS.get(line_type, RecordKind.OTHER)
    flattened = line.era is Era.RECORD_TYPE and line.payload_raw is line.raw
    return Record(
        kind, line_type, offset, line.ordinal, line.timestamp, line.payload_raw, flattened
    )
