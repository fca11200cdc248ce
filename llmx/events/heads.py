"""Partial payload Structs: the few fields a scan needs, decoded without the rest.

Folds that visit every line (resume's reverse scan, lineage resolution) classify lines by
a handful of fields; decoding the full ``EventMsg`` or ``SessionMeta`` Struct for each
line would cost most of the scan. Each head here mirrors fields of a full Struct of this
package under the same names (``tests/events/test_heads.py`` checks that they stay in
step), and is more lenient than it: every field is optional, so a line a full decode
would reject still classifies.
"""

from __future__ import annotations

import msgspec
from msgspec import Struct

from llmx.events.nesting import DECODE_ERRORS


class TurnItemHead(Struct):
    """The tag of a ``TurnItem`` (``item`` of ``item_started``/``item_completed``)."""

    type: str | None = None


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


class HistoryBaseHead(Struct):
    """``HistoryBase`` with its bounds optional: a parent bounded by only one of them can
    still be followed, and one bounded by neither is reported rather than ignored."""

    thread_id: str
    end_ordinal_exclusive: int | None = None
    end_byte_offset: int | None = None


class SessionMetaHead(Struct):
    """The id and ``history_base`` of a ``SessionMeta``, without its instructions."""

    id: str | None = None
    history_base: HistoryBaseHead | None = None


class ResponseItemHead(Struct):
    """The tag of a ``ResponseItem`` and the fields that pair and filter items: ``role``
    (``Message``) and ``call_id`` (calls and their outputs)."""

    type: str | None = None
    role: str | None = None
    call_id: str | None = None


class TurnContextHead(Struct):
    """The fields of a ``TurnContext`` that turn segmentation needs, without the rest."""

    turn_id: str | None = None
    model: str | None = None


_event_head_decoder = msgspec.json.Decoder(EventHead)
_session_meta_head_decoder = msgspec.json.Decoder(SessionMetaHead)


def decode_event_head(payload_raw: bytes | memoryview) -> EventHead | None:
    """The head of an ``event_msg`` payload; None when its fields have odd types."""
    try:
        return _event_head_decoder.decode(payload_raw)
    except DECODE_ERRORS:
        return None


def decode_session_meta_head(payload_raw: bytes) -> SessionMetaHead | None:
    """The head of a ``session_meta`` payload; None when its fields have odd types."""
    try:
        return _session_meta_head_decoder.decode(payload_raw)
    except DECODE_ERRORS:
        return None
