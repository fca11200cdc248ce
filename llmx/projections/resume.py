"""The resume fold: the model-context history and settings a resumed session starts from.

This follows Codex's newest reconstruction (spec 2.9): the rollout is read from its end
(:mod:`llmx.projections.resume_scan`), and reading stops once older lines cannot change
the result, so the cost follows what is restored, not the size of the file. Lines are
classified from a small envelope and a partial head of their payload; only what is
restored is kept, and only the surviving turn context is decoded whole.

Restored items come in two representations (:mod:`llmx.projections.resume_items`):
:func:`fold_resume` gives dicts (for inspection and audit); :func:`fold_resume_raw`
gives :class:`RawItem` (the recorded JSON bytes), which :func:`prompt_input_raw` turns
into a request ``input`` without decoding or re-encoding the items.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import msgspec

from llmx.events.lines import Era, LineError, decode_line
from llmx.events.nesting import DECODE_ERRORS, nesting_problem, nests_too_deeply
from llmx.events.raw_lines import RawLine, read_lines_forward
from llmx.events.records import LineType, SessionMeta
from llmx.events.reverse_reader import ReverseRolloutReader
from llmx.projections.fold_lines import RecordKind, record_of
from llmx.projections.lineage import RolloutSpan, resolve_lineage
from llmx.projections.resume_items import (
    DictCodec,
    ItemCodec,
    RawCodec,
    RawItem,
    prompt_input,
    prompt_input_raw,
)
from llmx.projections.resume_scan import ScanLine, replay, scan_backward, token_usage_of

__all__ = [
    "RawItem",
    "ResumeSettings",
    "ResumeState",
    "SkippedLine",
    "context_effort",
    "fold_resume",
    "fold_resume_raw",
    "prompt_input",
    "prompt_input_raw",
    "read_session_meta",
]

JsonObject = dict[str, Any]
ItemT = TypeVar("ItemT")

_TOKEN_COUNT_MARK = b'"token_count"'
# The line types the fold reads; everything else is passed over from its envelope.
_FOLD_KINDS = {
    kind.value: kind
    for kind in (
        RecordKind.RESPONSE_ITEM,
        RecordKind.EVENT_MSG,
        RecordKind.TURN_CONTEXT,
        RecordKind.COMPACTED,
    )
}


class _Envelope(msgspec.Struct):
    """The two envelope fields the fold needs of a line of the enveloped eras."""

    type: Any = None
    payload: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


_envelope_decoder = msgspec.json.Decoder(_Envelope)


# A dataclass, not a Struct like its neighbours: ``llmx inspect`` dumps it with ``asdict``.
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


class SkippedLine(msgspec.Struct, frozen=True):
    """A line the fold could not decode; it is skipped, never repaired."""

    path: Path
    offset: int
    reason: str


class ResumeState(msgspec.Struct, Generic[ItemT]):
    thread_id: str | None
    history: list[ItemT]
    """Model-context items, oldest first, exactly as recorded (unknown fields kept)."""
    reference_context: JsonObject | None
    """The newest surviving ``turn_context`` payload; None when a compaction cleared it."""
    previous_model: str | None
    settings: ResumeSettings
    token_usage: JsonObject | None
    """``info`` of the last ``token_count`` that has one."""
    session_meta: SessionMeta | None
    spans: list[RolloutSpan]
    lines_read: int = 0
    skipped: list[SkippedLine] = msgspec.field(default_factory=list)
    torn_tail: bool = False


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class _Reader:
    """Feeds the fold records newest first, span by span, and keeps count of what it read.

    The event store's reverse reader finds the torn tail and the lines that do not
    decode; the fold only classifies what decodes.
    """

    def __init__(self, spans: Sequence[RolloutSpan], *, check_nesting: bool = False) -> None:
        self._readers = [
            (span, ReverseRolloutReader(span.path, end_offset=span.end))
            for span in reversed(spans)
        ]
        self._check_nesting = check_nesting
        self._lines = self._raw_lines()

    def _raw_lines(self) -> Iterator[tuple[ReverseRolloutReader, RawLine]]:
        check = self._check_nesting
        for _span, reader in self._readers:
            for raw in reader.raw_lines():
                if check and nests_too_deeply(raw.data):
                    reader.reject(raw, nesting_problem())
                    continue
                yield reader, raw

    def lines(self) -> Iterator[ScanLine]:
        """The lines the fold reads, newest first, as (kind, payload view)."""
        decode_envelope = _envelope_decoder.decode
        kinds = _FOLD_KINDS
        for reader, raw in self._lines:
            data = raw.data
            try:
                envelope = decode_envelope(data)
            except DECODE_ERRORS:
                envelope = None
            # The enveloped eras (nearly every line): classified from the envelope.
            # msgspec does not look inside the payload, so UTF-8 is checked here.
            if (
                envelope is not None
                and type(envelope.type) is str
                and len(envelope.payload)
                and (data.isascii() or _valid_utf8(data))
            ):
                kind = kinds.get(envelope.type)
                if kind is not None:
                    yield kind, memoryview(envelope.payload)
                continue
            # Older eras, and lines that do not decode (which the reader reports).
            found = self._decoded(reader, raw)
            if found is not None:
                yield found

    @staticmethod
    def _decoded(reader: ReverseRolloutReader, raw: RawLine) -> ScanLine | None:
        line = reader.decode(raw)
        record = None if line is None else record_of(line, raw.start)
        if line is None or record is None or record.kind.value not in _FOLD_KINDS:
            return None
        if line.era is Era.RECORD_TYPE and line.payload_raw is line.raw:
            # Fields flattened beside the envelope: the payload without the envelope keys.
            return record.kind, msgspec.json.encode(record.payload)
        return record.kind, line.payload_raw

    def last_token_usage(self) -> JsonObject | None:
        """Keep reading, cheaply, for a ``token_count`` the fold did not reach."""
        for reader, raw in self._lines:
            if _TOKEN_COUNT_MARK not in raw.data:
                continue
            found = self._decoded(reader, raw)
            if found is None or found[0] is not RecordKind.EVENT_MSG:
                continue
            usage = token_usage_of(found[1])
            if usage is not None:
                return usage
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


def read_session_meta(spans: Sequence[RolloutSpan]) -> SessionMeta | None:
    """The leaf file's first ``session_meta`` (a fork's own meta, not its parent's); None
    when its first line is no ``session_meta`` or one that does not fit the type."""
    leaf = spans[-1]
    for raw in read_lines_forward(leaf.path, end=leaf.end, block_size=1 << 16):
        if raw.is_blank:
            continue
        try:
            line = decode_line(raw.data)
        except LineError:
            return None
        if line.type == LineType.STATE or line.era is Era.UNKNOWN:
            continue
        meta = line.read_item() if line.type == LineType.SESSION_META else None
        return meta if isinstance(meta, SessionMeta) else None
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


def _settings(meta: SessionMeta | None, context: JsonObject | None) -> ResumeSettings:
    context = context or {}
    effort = context_effort(context)
    return ResumeSettings(
        model=context.get("model"),
        model_provider=meta.model_provider if meta else None,
        cwd=context.get("cwd", meta.cwd if meta else None),
        approval_policy=context.get("approval_policy"),
        approvals_reviewer=context.get("approvals_reviewer"),
        sandbox_policy=context.get("sandbox_policy"),
        permission_profile=context.get("permission_profile"),
        effort=effort,
        summary=context.get("summary"),
        personality=context.get("personality"),
    )


def _fold(
    path: Path,
    codec: ItemCodec[ItemT],
    search_roots: Sequence[Path],
    initial_context: Sequence[JsonObject],
    spans: Sequence[RolloutSpan] | None = None,
) -> ResumeState[ItemT]:
    try:
        return _fold_once(path, codec, search_roots, initial_context, spans,
                          check_nesting=False)
    except RecursionError:
        # A line nested deeply enough to exhaust a decoder somewhere in the fold (the
        # fast pass checks nothing ahead): fold again, refusing every line nested more
        # than serde_json's limit before anything decodes it. Those lines are reported.
        return _fold_once(path, codec, search_roots, initial_context, spans,
                          check_nesting=True)


def _fold_once(
    path: Path,
    codec: ItemCodec[ItemT],
    search_roots: Sequence[Path],
    initial_context: Sequence[JsonObject],
    given_spans: Sequence[RolloutSpan] | None,
    *,
    check_nesting: bool,
) -> ResumeState[ItemT]:
    spans = list(given_spans) if given_spans else resolve_lineage(path, search_roots)
    reader = _Reader(spans, check_nesting=check_nesting)
    scan = scan_backward(reader.lines())
    history = replay(scan, codec, initial_context)
    usage = scan.token_usage
    if usage is None:
        usage = reader.last_token_usage()
    context = scan.reference_context()
    meta = read_session_meta(spans)
    return ResumeState(
        thread_id=meta.id if meta else None,
        history=history,
        reference_context=context,
        previous_model=scan.previous_model,
        settings=_settings(meta, context),
        token_usage=usage,
        session_meta=meta,
        spans=spans,
        lines_read=reader.lines_read,
        skipped=reader.skipped,
        torn_tail=reader.torn_tail,
    )


def fold_resume(
    path: Path,
    *,
    search_roots: Sequence[Path] = (),
    initial_context: Sequence[JsonObject] = (),
) -> ResumeState[JsonObject]:
    """Resume state of the rollout at ``path``, following ``history_base`` to its parents.

    ``initial_context`` is what a compaction without replacement history rebuilds on (in
    Codex, the context the resuming session would inject for a new conversation).

    Raises :class:`~llmx.projections.lineage.LineageError` when a parent is missing and
    ``OSError`` when the file cannot be read.
    """
    return _fold(path, DictCodec(), search_roots, initial_context)


def fold_resume_raw(
    path: Path,
    *,
    search_roots: Sequence[Path] = (),
    initial_context: Sequence[JsonObject] = (),
    spans: Sequence[RolloutSpan] | None = None,
) -> ResumeState[RawItem]:
    """:func:`fold_resume` with the history as recorded bytes (:class:`RawItem`).

    What a resumed session should use: ``prompt_input_raw(state.history)`` is the
    request ``input`` as ``msgspec.Raw`` values, equal as JSON to
    ``prompt_input(fold_resume(path).history)``, at a fraction of the time and memory.
    ``spans`` (the lineage of ``path``, its last one bounded) folds only that much: a
    fork from a turn starts from the history as that turn left it.
    """
    return _fold(path, RawCodec(), search_roots, initial_context, spans)
