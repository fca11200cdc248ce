"""The rollout line: a decoded envelope that keeps its bytes, with typed payloads on demand.

Decoding reads only the envelope (``timestamp``, ``ordinal``, ``type``) and keeps the
payload as ``msgspec.Raw``; the typed payload is decoded when first asked for. A line
read from a file is written back byte for byte, so fields and variants llmx does not
know survive a round trip. Lines llmx creates are encoded from the Structs.
"""

from __future__ import annotations

import enum
from typing import Any, TypeVar

import msgspec
from msgspec import Struct

from llmx.events.event_msgs import EventMsg, EventMsgBase
from llmx.events.ids import format_timestamp
from llmx.events.nesting import DECODE_ERRORS, nesting_problem
from llmx.events.ops import Op
from llmx.events.records import (
    Compacted,
    DecisionRecord,
    EscalationRecord,
    LineType,
    ModelRequestRecord,
    OutputRef,
    RetainedVerifiedAnswer,
    SandboxDenialRecord,
    SessionMeta,
    SubmissionRecord,
    TokenUsageRecord,
    TurnContext,
    WorldState,
    WriterRecord,
)
from llmx.events.response_items import ResponseItem, ResponseItemBase
from llmx.events.turn_items import TurnItem

T = TypeVar("T")


class Era(enum.StrEnum):
    """The shape a line was written in (see the eras table of the format docs)."""

    # ``{"timestamp","ordinal","type","payload"}`` (Codex 0.14x+).
    ORDINAL = "ordinal"
    # ``{"timestamp","type","payload"}`` (E1-E2).
    ENVELOPE = "envelope"
    # A line tagged ``record_type`` next to ``timestamp`` (a short-lived 2025 variant).
    RECORD_TYPE = "record_type"
    # E0: a bare meta object first, then bare ResponseItem objects.
    BARE = "bare"
    # A JSON object of no known shape.
    UNKNOWN = "unknown"


class LineError(ValueError):
    """A line that is not a JSON object (unparseable, not UTF-8, or another JSON value)."""


class UnknownPayload:
    """A payload of an unknown line type or variant, or one that failed typed decoding.

    ``type`` is the variant tag when there is one; ``error`` says why a known tag did not
    decode. The raw JSON is kept as is.
    """

    __slots__ = ("error", "line_type", "raw", "type")

    def __init__(self, line_type: str, tag: str | None, raw: bytes, error: str | None = None):
        self.line_type = line_type
        self.type = tag
        self.raw = raw
        self.error = error

    def value(self) -> Any:
        return msgspec.json.decode(self.raw)

    def __repr__(self) -> str:
        return f"UnknownPayload({self.line_type!r}, {self.type!r}, {len(self.raw)} bytes)"


RolloutItem = (
    SessionMeta
    | EventMsg
    | ResponseItem
    | TurnContext
    | Compacted
    | WorldState
    | TokenUsageRecord
    | RetainedVerifiedAnswer
    | SubmissionRecord
    | EscalationRecord
    | OutputRef
    | WriterRecord
    | DecisionRecord
    | ModelRequestRecord
    | SandboxDenialRecord
)

# The typed payload of each known line type.
PAYLOAD_TYPES: dict[str, Any] = {
    LineType.SESSION_META: SessionMeta,
    LineType.RESPONSE_ITEM: ResponseItem,
    LineType.EVENT_MSG: EventMsg,
    LineType.TURN_CONTEXT: TurnContext,
    LineType.COMPACTED: Compacted,
    LineType.WORLD_STATE: WorldState,
    LineType.TOKEN_USAGE_RECORD: TokenUsageRecord,
    LineType.RETAINED_CONTEXT: RetainedVerifiedAnswer,
    LineType.SUBMISSION: SubmissionRecord,
    LineType.ESCALATION: EscalationRecord,
    LineType.OUTPUT_REF: OutputRef,
    LineType.WRITER: WriterRecord,
    LineType.DECISION: DecisionRecord,
    LineType.MODEL_REQUEST: ModelRequestRecord,
    LineType.SANDBOX_DENIAL: SandboxDenialRecord,
}

_LINE_TYPE_OF_CLASS: dict[type, LineType] = {
    SessionMeta: LineType.SESSION_META,
    TurnContext: LineType.TURN_CONTEXT,
    Compacted: LineType.COMPACTED,
    WorldState: LineType.WORLD_STATE,
    TokenUsageRecord: LineType.TOKEN_USAGE_RECORD,
    RetainedVerifiedAnswer: LineType.RETAINED_CONTEXT,
    SubmissionRecord: LineType.SUBMISSION,
    EscalationRecord: LineType.ESCALATION,
    OutputRef: LineType.OUTPUT_REF,
    WriterRecord: LineType.WRITER,
    DecisionRecord: LineType.DECISION,
    ModelRequestRecord: LineType.MODEL_REQUEST,
    SandboxDenialRecord: LineType.SANDBOX_DENIAL,
}

# ``record_type`` values of the short-lived variant, mapped to today's line types.
_RECORD_TYPES: dict[str, str] = {
    "response": LineType.RESPONSE_ITEM,
    "event": LineType.EVENT_MSG,
    "session_meta": LineType.SESSION_META,
    "prev_session_meta": LineType.SESSION_META,
    "state": LineType.STATE,
}

_UNIONS_WITH_TAGS = (EventMsg, ResponseItem, Op, TurnItem)

_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def _decoder(target: Any) -> msgspec.json.Decoder[Any]:
    found = _decoders.get(target)
    if found is None:
        found = _decoders[target] = msgspec.json.Decoder(target)
    return found


class _Envelope(Struct):
    timestamp: Any = None
    ordinal: Any = None
    type: Any = None
    payload: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    record_type: Any = None
    id: Any = None


class _Tag(Struct):
    type: Any = None


_envelope_decoder = msgspec.json.Decoder(_Envelope)
_tag_decoder = msgspec.json.Decoder(_Tag)


_encoder = msgspec.json.Encoder()


class RolloutLine:
    """One line of a rollout file.

    ``raw`` is the line without its newline; ``type`` the line type (for old eras, the
    type the line stands for); ``payload_raw`` the payload's JSON bytes.
    """

    __slots__ = ("_typed", "era", "ordinal", "payload_raw", "raw", "timestamp", "type")

    def __init__(
        self,
        raw: bytes,
        type: str,
        payload_raw: bytes,
        *,
        timestamp: str | None,
        ordinal: int | None,
        era: Era,
        typed: Any = None,
    ) -> None:
        self.raw = raw
        self.type = type
        self.payload_raw = payload_raw
        self.timestamp = timestamp
        self.ordinal = ordinal
        self.era = era
        self._typed = typed

    def __repr__(self) -> str:
        return f"RolloutLine(type={self.type!r}, ordinal={self.ordinal!r}, {len(self.raw)} bytes)"

    @property
    def payload_type(self) -> str | None:
        """The payload's own ``type`` tag (``event_msg``/``response_item`` variants)."""
        if self._typed is not None and not isinstance(self._typed, UnknownPayload):
            tag = getattr(type(self._typed), "__struct_config__", None)
            if tag is not None and isinstance(tag.tag, str):
                return tag.tag
        try:
            tag_value = _tag_decoder.decode(self.payload_raw).type
        except DECODE_ERRORS:
            return None
        return tag_value if isinstance(tag_value, str) else None

    def item(self) -> RolloutItem | UnknownPayload:
        """The typed payload, decoded once; an :class:`UnknownPayload` when not known."""
        if self._typed is None:
            self._typed = decode_payload(self.type, self.payload_raw)
        typed: RolloutItem | UnknownPayload = self._typed
        return typed

    def read_item(self) -> RolloutItem | UnknownPayload:
        """The typed payload like :meth:`item`, but not kept on the line: a fold that reads
        each line once spares the memory, and the garbage collector its passes over it
        (a third of the exec fold's time on a long file)."""
        typed = self._typed
        if typed is None:
            return decode_payload(self.type, self.payload_raw)
        found: RolloutItem | UnknownPayload = typed
        return found

    def payload_as(self, target: type[T] | Any) -> T | UnknownPayload:
        """Decode the payload as ``target`` (a Struct or a union such as ``EventMsg``)."""
        current = self._typed
        if current is not None and _matches(current, target):
            matched: T = current
            return matched
        decoded: T | UnknownPayload = _decode_as(self.type, self.payload_raw, target)
        return decoded

    def to_bytes(self) -> bytes:
        """The line as written to a file: its bytes and a newline."""
        return self.raw + b"\n"

    @classmethod
    def create(
        cls,
        payload: RolloutItem | UnknownPayload,
        *,
        ordinal: int | None,
        timestamp: str | None = None,
    ) -> RolloutLine:
        """A new line of the newest shape, encoded from ``payload``.

        ``ordinal`` is None only for lines that are published but never persisted
        (streaming deltas); it is then left out.
        """
        line_type = line_type_of(payload)
        stamp = format_timestamp() if timestamp is None else timestamp
        if isinstance(payload, UnknownPayload):
            # Something the schema does not model (a new item type from a model): kept as is.
            payload_raw = payload.raw
        else:
            payload_raw = _encoder.encode(payload)
        # Assembled by hand (the envelope is fixed) so the payload is encoded only once.
        head = _encoder.encode(stamp)
        if ordinal is None:
            prefix = b'{"timestamp":' + head + b',"type":"'
        else:
            prefix = b'{"timestamp":' + head + b',"ordinal":' + str(ordinal).encode() + b',"type":"'
        raw = prefix + line_type.encode() + b'","payload":' + payload_raw + b"}"
        return cls(
            raw,
            line_type,
            payload_raw,
            timestamp=stamp,
            ordinal=ordinal,
            era=Era.ORDINAL,
            typed=payload,
        )


def line_type_of(payload: Any) -> str:
    if isinstance(payload, UnknownPayload) and payload.line_type:
        return payload.line_type
    if isinstance(payload, EventMsgBase):
        return LineType.EVENT_MSG
    if isinstance(payload, ResponseItemBase):
        return LineType.RESPONSE_ITEM
    found = _LINE_TYPE_OF_CLASS.get(type(payload))
    if found is None:
        raise TypeError(f"{type(payload).__name__} is not a rollout line payload")
    return found


def _matches(value: Any, target: Any) -> bool:
    if isinstance(value, UnknownPayload):
        return False
    try:
        return isinstance(value, target)
    except TypeError:
        return False


def _decode_as(
    line_type: str,
    payload_raw: bytes,
    target: Any,
    decoder: msgspec.json.Decoder[Any] | None = None,
) -> Any:
    try:
        return (decoder or _decoder(target)).decode(payload_raw)
    except DECODE_ERRORS as exc:
        tag: str | None = None
        try:
            tag_value = _tag_decoder.decode(payload_raw).type
            tag = tag_value if isinstance(tag_value, str) else None
        except DECODE_ERRORS:
            pass
        known = target in _UNIONS_WITH_TAGS and tag is not None and _has_tag(target, tag)
        return UnknownPayload(line_type, tag, payload_raw, str(exc) if known else None)


def _has_tag(union: Any, tag: str) -> bool:
    return tag in _tags_of(union)


_tag_cache: dict[Any, frozenset[str]] = {}


def _tags_of(union: Any) -> frozenset[str]:
    found = _tag_cache.get(union)
    if found is None:
        found = frozenset(
            member.__struct_config__.tag
            for member in getattr(union, "__args__", (union,))
            if isinstance(getattr(member, "__struct_config__", None), msgspec.structs.StructConfig)
            and isinstance(member.__struct_config__.tag, str)
        )
        _tag_cache[union] = found
    return found


def decode_payload(line_type: str, payload_raw: bytes) -> RolloutItem | UnknownPayload:
    """The typed payload of a line of ``line_type``, or an :class:`UnknownPayload`."""
    target = PAYLOAD_TYPES.get(line_type)
    if target is None:
        return UnknownPayload(line_type, None, payload_raw)
    # Found by the line type: hashing a union as large as ``EventMsg`` takes microseconds.
    decoder = _payload_decoders.get(line_type)
    if decoder is None:
        decoder = _payload_decoders[line_type] = _decoder(target)
    result: RolloutItem | UnknownPayload = _decode_as(line_type, payload_raw, target, decoder)
    return result


_payload_decoders: dict[str, msgspec.json.Decoder[Any]] = {}


def decode_line(raw: bytes) -> RolloutLine:
    """Decode one line (without its newline). Raises :class:`LineError` if not an object."""
    try:
        env = _envelope_decoder.decode(raw)
    except msgspec.ValidationError:
        return _decode_odd_line(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise LineError(_describe_decode_error(raw, exc)) from None
    except RecursionError:
        raise LineError(nesting_problem()) from None
    try:
        # msgspec does not look inside the Raw payload; a rollout must be UTF-8 throughout.
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise LineError(f"invalid UTF-8 at byte {err.start}") from None
    line_type = env.type
    payload = env.payload
    if isinstance(line_type, str) and len(payload):
        ordinal = env.ordinal if type(env.ordinal) is int else None
        return RolloutLine(
            raw,
            line_type,
            bytes(payload),
            timestamp=env.timestamp if isinstance(env.timestamp, str) else None,
            ordinal=ordinal,
            era=Era.ORDINAL if ordinal is not None else Era.ENVELOPE,
        )
    timestamp = env.timestamp if isinstance(env.timestamp, str) else None
    if isinstance(env.record_type, str):
        mapped = _RECORD_TYPES.get(env.record_type, env.record_type)
        return RolloutLine(
            raw,
            mapped,
            bytes(payload) if len(payload) else raw,
            timestamp=timestamp,
            ordinal=None,
            era=Era.RECORD_TYPE,
        )
    if isinstance(line_type, str):
        return RolloutLine(
            raw, LineType.RESPONSE_ITEM, raw, timestamp=None, ordinal=None, era=Era.BARE
        )
    if env.id is not None and timestamp is not None:
        return RolloutLine(
            raw, LineType.SESSION_META, raw, timestamp=timestamp, ordinal=None, era=Era.BARE
        )
    return RolloutLine(raw, "", raw, timestamp=timestamp, ordinal=None, era=Era.UNKNOWN)


def _decode_odd_line(raw: bytes) -> RolloutLine:
    # Valid JSON but not an object: a list, a string, a number...
    try:
        value = msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise LineError(_describe_decode_error(raw, exc)) from None
    except RecursionError:
        raise LineError(nesting_problem()) from None
    raise LineError(f"a JSON {type(value).__name__}, not an object")


def _describe_decode_error(raw: bytes, exc: Exception) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return f"invalid UTF-8 at byte {err.start}"
    message = str(exc)
    if not raw.strip():
        return "an empty line"
    return f"not valid JSON ({message})"


def encode_line(line: RolloutLine) -> bytes:
    """The bytes to write for ``line``: the original bytes for decoded lines."""
    return line.raw + b"\n"
