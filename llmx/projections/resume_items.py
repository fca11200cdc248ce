"""Restored history items, held as dicts or as their recorded JSON bytes, and the request input.

The resume fold restores every ``response_item`` after the newest compaction; for a long
session without one that is tens of megabytes of JSON. Decoding it into dicts only to
encode it again for the request costs most of a resume, and the dicts take about three
times the memory of the bytes. :class:`RawItem` keeps an item as the bytes it was
recorded with plus the few fields the fold and the request need (decoded from a partial
:class:`~llmx.events.response_items.ResponseItemHead`); :func:`prompt_input_raw` gives the request
``input`` as ``msgspec.Raw`` values, which ``msgspec.json.encode`` splices into a body
without re-encoding them.

Both representations go through the same fold (:class:`ItemCodec`), and
:func:`prompt_input` / :func:`prompt_input_raw` give equal JSON for equal history.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

import msgspec

from llmx.events.response_items import ResponseItemHead

JsonObject = dict[str, Any]
ItemT = TypeVar("ItemT")

# ResponseItem types Codex keeps in model context; anything else (``ghost_snapshot``,
# ``compaction_trigger``, types it does not know) is dropped when recorded.
CONTEXT_ITEM_TYPES = frozenset(
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

# What Codex removes from a recorded item before sending it to the model: an internal
# field of 0.169 that rides along on every item it writes.
_INTERNAL_FIELD = "internal_chat_message_metadata_passthrough"
_INTERNAL_FIELDS = (_INTERNAL_FIELD,)
_INTERNAL_KEY = b'"' + _INTERNAL_FIELD.encode() + b'":'
_CALL_OUTPUTS = {
    "function_call": "function_call_output",
    "custom_tool_call": "custom_tool_call_output",
    "local_shell_call": "function_call_output",
}
_OUTPUT_TYPES = ("function_call_output", "custom_tool_call_output")
_COMMA, _OPEN, _CLOSE = ord(","), ord("{"), ord("}")


def _keeps_in_context(kind: object, role: object) -> bool:
    return kind in CONTEXT_ITEM_TYPES and not (kind == "message" and role == "system")


class _RestoredItemHead(ResponseItemHead):
    # Empty when absent; ``null`` and any other value arrive as their JSON bytes.
    internal_chat_message_metadata_passthrough: msgspec.Raw = msgspec.field(
        default_factory=msgspec.Raw
    )


_item_head_decoder = msgspec.json.Decoder(_RestoredItemHead)
_any_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


class RawItem(msgspec.Struct):
    """One restored ``ResponseItem``: its JSON exactly as recorded, and its head fields."""

    data: bytes
    type: Any
    call_id: Any
    internal: bytes | None
    """The JSON of the internal passthrough field when the item has one (stripped before
    sending); ``b""`` when it has one that could not be read from the head."""

    def value(self) -> Any:
        """The item as JSON values (a dict for every item Codex writes)."""
        return _any_decoder.decode(self.data)


def raw_item(data: bytes) -> tuple[RawItem, Any]:
    """The :class:`RawItem` of ``data`` and its role (which only the fold's filter needs)."""
    try:
        head = _item_head_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        # Fields of odd types: read them from the whole value instead.
        value = _any_decoder.decode(data)
        if not isinstance(value, dict):
            return RawItem(data, None, None, None), None
        internal = b"" if _INTERNAL_FIELD in value else None
        return RawItem(data, value.get("type"), value.get("call_id"), internal), value.get("role")
    passthrough = head.internal_chat_message_metadata_passthrough
    internal = bytes(passthrough) if len(passthrough) else None
    return RawItem(data, head.type, head.call_id, internal), head.role


class ItemCodec(Protocol[ItemT]):
    """How the fold holds restored items: built from recorded JSON, and viewed as dicts
    by the rare steps (rollback, legacy compaction) that read message texts."""

    def recorded(self, payload: bytes) -> ItemT | None:
        """A ``response_item`` payload as a history item; None when Codex drops it."""

    def replacement(self, items: Sequence[msgspec.Raw]) -> list[ItemT]:
        """A compaction's ``replacement_history``, taken as is."""

    def view(self, item: ItemT) -> JsonObject:
        """The item as a dict, for the user-turn rules of :mod:`llmx.projections.turns`."""

    def from_dict(self, value: JsonObject) -> ItemT:
        """An item the fold builds itself (legacy compaction's messages)."""


class DictCodec:
    """History items as dicts: what the inspection and audit commands print."""

    def recorded(self, payload: bytes) -> JsonObject | None:
        item = _any_decoder.decode(payload)
        if isinstance(item, dict) and _keeps_in_context(item.get("type"), item.get("role")):
            return item
        return None

    def replacement(self, items: Sequence[msgspec.Raw]) -> list[JsonObject]:
        return [_any_decoder.decode(item) for item in items]

    def view(self, item: JsonObject) -> JsonObject:
        return item if isinstance(item, dict) else {}

    def from_dict(self, value: JsonObject) -> JsonObject:
        return value


class RawCodec:
    """History items as :class:`RawItem`: what a resumed session sends on."""

    def recorded(self, payload: bytes) -> RawItem | None:
        item, role = raw_item(payload)
        return item if _keeps_in_context(item.type, role) else None

    def replacement(self, items: Sequence[msgspec.Raw]) -> list[RawItem]:
        return [raw_item(bytes(item))[0] for item in items]

    def view(self, item: RawItem) -> JsonObject:
        # The user-turn rules read only the type of anything but a message.
        if item.type != "message":
            return {"type": item.type}
        value = item.value()
        return value if isinstance(value, dict) else {}

    def from_dict(self, value: JsonObject) -> RawItem:
        return raw_item(_encoder.encode(value))[0]


class _Pairing:
    """Which calls have outputs and which outputs have calls."""

    def __init__(self, kinds_and_ids: Sequence[tuple[Any, Any]]) -> None:
        self.call_ids = {call_id for kind, call_id in kinds_and_ids if kind in _CALL_OUTPUTS}
        self.output_ids = {call_id for kind, call_id in kinds_and_ids if kind in _OUTPUT_TYPES}

    def orphan_output(self, kind: Any, call_id: Any) -> bool:
        return kind in _OUTPUT_TYPES and call_id not in self.call_ids

    def missing_output(self, kind: Any, call_id: Any) -> JsonObject | None:
        """The ``aborted`` output Codex adds for a call that has none."""
        if kind in _CALL_OUTPUTS and call_id and call_id not in self.output_ids:
            return {"type": _CALL_OUTPUTS[str(kind)], "call_id": call_id, "output": "aborted"}
        return None


def prompt_input(history: Sequence[JsonObject]) -> list[JsonObject]:
    """History as sent to the model: internal fields stripped, calls and outputs paired.

    Every call gets an output (Codex answers an unanswered one with ``"aborted"``) and
    outputs whose call is gone are dropped, as Codex normalises before each request.
    """
    cleaned = [
        {key: value for key, value in item.items() if key not in _INTERNAL_FIELDS}
        for item in history
    ]
    pairing = _Pairing(
        [(item.get("type"), item.get("call_id")) for item in cleaned]
    )
    result: list[JsonObject] = []
    for item in cleaned:
        kind, call_id = item.get("type"), item.get("call_id")
        if pairing.orphan_output(kind, call_id):
            continue
        result.append(item)
        added = pairing.missing_output(kind, call_id)
        if added is not None:
            result.append(added)
    return result


def prompt_input_raw(history: Sequence[RawItem]) -> list[msgspec.Raw]:
    """:func:`prompt_input` of a raw history, as JSON values ready to splice into a body.

    ``msgspec.json.encode`` writes a ``msgspec.Raw`` as its bytes; to decode one, use
    ``msgspec.json.decode(bytes(raw))``.
    """
    pairing = _Pairing([(item.type, item.call_id) for item in history])
    result: list[msgspec.Raw] = []
    for item in history:
        kind, call_id = item.type, item.call_id
        if pairing.orphan_output(kind, call_id):
            continue
        result.append(msgspec.Raw(_without_internal(item)))
        added = pairing.missing_output(kind, call_id)
        if added is not None:
            result.append(msgspec.Raw(_encoder.encode(added)))
    return result


def _without_internal(item: RawItem) -> bytes:
    """``item.data`` without its top-level internal field, cut out of the bytes.

    The key and value are searched as Codex writes them (compact JSON). In valid JSON a
    quoted key followed by a colon cannot occur inside a string, so when the key occurs
    once it is the top-level one the head reported; anything else (whitespace, a nested
    copy) goes through a decode and re-encode instead.
    """
    data = item.data
    if item.internal is None:
        return data
    if item.internal and data.count(_INTERNAL_KEY) == 1:
        needle = _INTERNAL_KEY + item.internal
        start = data.find(needle)
        end = start + len(needle)
        if start > 0 and end < len(data):
            before, after = data[start - 1], data[end]
            if before == _COMMA:
                return data[: start - 1] + data[end:]
            if before == _OPEN and after == _COMMA:
                return data[:start] + data[end + 1 :]
            if before == _OPEN and after == _CLOSE:
                return data[:start] + data[end:]
    value = _any_decoder.decode(data)
    for key in _INTERNAL_FIELDS:
        value.pop(key, None)
    return _encoder.encode(value)
