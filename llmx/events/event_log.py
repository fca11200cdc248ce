"""``EventLog``: the single writer of one rollout.

Each :meth:`EventLog.record` call is a batch: its items get consecutive ordinals, are
capped (large outputs), encoded, redacted, written with one ``write`` and then handed
to subscribers in order. Durability (:class:`~llmx.events.fsync_policy.FsyncPolicy`):

- **Acknowledged** means :meth:`record` (or :meth:`persist`) returned while the log is
  materialised: the lines are in the file (in the OS, so a crash of the process cannot
  lose them). With ``FsyncPolicy.TURN`` (the default) the file is also fsynced at turn
  end (``task_complete``/``turn_aborted``), after approval decisions and escalations,
  and at close; ``ALWAYS`` fsyncs every batch, ``NEVER`` only at close.
- A new thread is **lazy**, as in Codex: nothing touches the disk until the first user
  input (a ``submission`` of ``user_input``/``user_turn``) or an explicit
  :meth:`persist`. With ``until_persisted`` only :meth:`persist` does it: a runtime that
  knows when the model received the first turn calls it then, so a turn that never
  reached the model (no API key, no server) leaves no file. Until then, recorded items
  are buffered in order and are not acknowledged: :meth:`record` returns them with
  ``acknowledged=False``.
- **Published** means handed to subscribers, and comes after acknowledged (and after the
  fsync the durability policy asks for that batch): what a frontend shows is in the file,
  so a process killed the moment it shows a line has that line on disk. A new thread's
  turn waits for its file: its lines are held from its user input (or ``task_started``)
  and published when the file appears with them. A turn that ends before the file
  appears (it never reached the model) is published at its end, never written unless a
  later turn materialises the file; lines recorded outside a turn are published at once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from llmx.events.event_msgs import (
    DELTA_EVENT_TYPES,
    EventMsgBase,
    ExecCommandOutputDelta,
    TaskComplete,
    TaskStarted,
    TurnAborted,
)
from llmx.events.fsync_policy import FsyncPolicy
from llmx.events.home import rollout_path_for
from llmx.events.ids import format_timestamp
from llmx.events.limits import DEFAULT_INLINE_OUTPUT_BYTES
from llmx.events.lines import RolloutItem, RolloutLine, UnknownPayload, decode_line
from llmx.events.ops import (
    ExecApproval,
    PatchApproval,
    ResolveElicitation,
    UserInputAnswer,
    UserInputOp,
    UserTurn,
)
from llmx.events.outputs import OutputCapper
from llmx.events.raw_lines import read_lines_backward
from llmx.events.reader import CHUNK_BYTES, RolloutReader, TornTail
from llmx.events.records import DecisionRecord, EscalationRecord, SessionMeta, SubmissionRecord
from llmx.events.redact import Redactor
from llmx.events.sinks import EphemeralSink, FileSink, RolloutSink
from llmx.events.subscribers import DEFAULT_SUBSCRIBER_CAPACITY, Subscription


class RolloutOptions(msgspec.Struct, frozen=True):
    """The ``[rollout]`` settings."""

    fsync: FsyncPolicy = FsyncPolicy.TURN
    # Also persist streaming deltas (``*_delta`` events); they are always published.
    persist_deltas: bool = False
    # Inline bytes of one command output; the rest goes to the blob store. None: no cap.
    inline_output_limit: int | None = DEFAULT_INLINE_OUTPUT_BYTES
    subscriber_capacity: int = DEFAULT_SUBSCRIBER_CAPACITY


class RecordResult(msgspec.Struct):
    """What one :meth:`EventLog.record` call produced."""

    # Every line, persisted or not, in order (output_ref lines included).
    lines: list[RolloutLine] = msgspec.field(default_factory=list)
    # True once the lines are in the file (or accepted by the ephemeral sink).
    acknowledged: bool = False
    synced: bool = False


def _is_delta(payload: Any) -> bool:
    if not isinstance(payload, EventMsgBase):
        return False
    return payload.__struct_config__.tag in DELTA_EVENT_TYPES


def _starts_a_turn(payload: Any) -> bool:
    return isinstance(payload, SubmissionRecord) and isinstance(payload.op, UserInputOp | UserTurn)


def _ends_a_turn(payload: Any) -> bool:
    return isinstance(payload, TaskComplete | TurnAborted)


def _needs_sync(payload: Any) -> bool:
    # A decision is on disk before what it allows (or refuses) happens, as its submission.
    if isinstance(payload, TaskComplete | TurnAborted | EscalationRecord | DecisionRecord):
        return True
    return isinstance(payload, SubmissionRecord) and isinstance(
        payload.op, ExecApproval | PatchApproval | ResolveElicitation | UserInputAnswer
    )


class EventLog:
    """The single writer of one rollout, with in-process subscribers."""

    def __init__(
        self,
        sink: RolloutSink,
        *,
        meta: SessionMeta | None = None,
        next_ordinal: int = 0,
        options: RolloutOptions | None = None,
        redactor: Redactor | None = None,
        until_persisted: bool = False,
    ) -> None:
        self._sink = sink
        # The first user input materialises the file, unless only persist() may.
        self._user_input_materializes = not until_persisted
        self._options = options or RolloutOptions()
        self._redactor = redactor if redactor is not None else Redactor.from_environment()
        # Full outputs are redacted before they are hashed and stored.
        self._capper = OutputCapper(self._options.inline_output_limit, redact=self._redactor.text)
        fsync = self._options.fsync
        self._sync_every_batch = fsync is FsyncPolicy.ALWAYS
        self._sync_at_turn_marks = fsync is FsyncPolicy.TURN
        self._drop_deltas = not self._options.persist_deltas
        self._materialized = False
        self._next_ordinal = next_ordinal
        self._buffer: list[RolloutLine] = []
        # Recorded but not shown to subscribers yet: the meta, until the first record.
        self._unpublished: list[RolloutLine] = []
        if meta is not None:
            # Written first when the file materialises, stamped with the thread's start.
            self._buffer.append(self._encode(meta, self._take_ordinal()))
            self._unpublished = list(self._buffer)
        self._buffered_blobs: list[tuple[str, bytes]] = []
        # Recorded in a turn of a thread whose file has not appeared: published with the
        # file, or at the turn's end if it never appears (see the module docstring).
        self._held: list[RolloutLine] = []
        self._holding = False
        # The held lines hold one the durability policy fsyncs (a turn end, a decision).
        self._held_needs_sync = False
        self._subscribers: list[Subscription] = []
        self._lock = asyncio.Lock()
        self._closed = False
        self._unsynced = False
        self.notices: list[str] = []

    # -- construction -----------------------------------------------------------------

    @classmethod
    def for_new_thread(
        cls,
        home: Path,
        meta: SessionMeta,
        *,
        started_local: datetime | None = None,
        ephemeral: bool = False,
        options: RolloutOptions | None = None,
        redactor: Redactor | None = None,
        until_persisted: bool = False,
        next_ordinal: int = 0,
        segment_id: str | None = None,
    ) -> EventLog:
        """A lazy log for a new thread: the file appears with the first user input, or
        with ``until_persisted`` at :meth:`persist` only.

        ``next_ordinal`` is the meta line's ordinal: a fork continues its parent's
        ordinals (its history is the parent's lines below that ordinal). ``segment_id``
        names a new segment of an existing thread (a revert) instead of a new thread.
        """
        if not meta.timestamp:
            meta = msgspec.structs.replace(meta, timestamp=format_timestamp())
        if ephemeral:
            sink: RolloutSink = EphemeralSink()
        else:
            when = started_local or datetime.now().astimezone()
            sink = FileSink(rollout_path_for(home, meta.id, when, segment_id))
        return cls(
            sink, meta=meta, next_ordinal=next_ordinal, options=options, redactor=redactor,
            until_persisted=until_persisted,
        )

    @classmethod
    def resume(
        cls,
        path: Path,
        *,
        ephemeral: bool = False,
        options: RolloutOptions | None = None,
        redactor: Redactor | None = None,
    ) -> EventLog:
        """Append to an existing rollout: no new ``session_meta``, ordinals continue.

        The writer lock is taken first (``RolloutBusy`` names the process that holds it),
        so the file cannot change under what follows: a torn final line is cut, and
        reported in :attr:`notices`; the ordinals continue from the file's last. With
        ``ephemeral`` the file is read but never written, nor locked.
        """
        sink: RolloutSink = EphemeralSink() if ephemeral else FileSink(path)
        log = cls(sink, options=options, redactor=redactor)
        log._open_sink()
        log._next_ordinal = next_ordinal_after(path)
        return log

    # -- properties -------------------------------------------------------------------

    @property
    def path(self) -> Path | None:
        return self._sink.path

    @property
    def materialized(self) -> bool:
        return self._materialized

    @property
    def next_ordinal(self) -> int:
        return self._next_ordinal

    @property
    def options(self) -> RolloutOptions:
        return self._options

    # -- writing ----------------------------------------------------------------------

    async def record(self, *payloads: RolloutItem | UnknownPayload) -> RecordResult:
        """Append ``payloads`` as one batch (see the module docstring for guarantees)."""
        async with self._lock:
            if self._closed:
                raise RuntimeError("the rollout log is closed")
            result = RecordResult()
            lines = result.lines
            persisted: list[RolloutLine] = []
            blobs: list[tuple[str, bytes]] = []
            starts_turn = False
            ends_turn = False
            sync = self._sync_every_batch
            for payload in payloads:
                if type(payload) is SubmissionRecord:
                    user_input = _starts_a_turn(payload)
                    starts_turn = starts_turn or (user_input and self._user_input_materializes)
                    self._holding = self._holding or user_input
                elif type(payload) is TaskStarted:
                    self._holding = True
                ends_turn = ends_turn or _ends_a_turn(payload)
                if self._sync_at_turn_marks and not sync:
                    sync = _needs_sync(payload)
                if self._drop_deltas and _is_delta(payload):
                    lines.append(self._encode(payload, None))
                    continue
                capped, stored = self._capper.apply(payload)
                line = self._encode(capped, self._take_ordinal())
                lines.append(line)
                persisted.append(line)
                for output in stored:
                    blobs.append((output.ref.sha256, output.data))
                    ref_line = self._encode(output.ref, self._take_ordinal())
                    lines.append(ref_line)
                    persisted.append(ref_line)
            if not self._materialized and not starts_turn:
                self._buffer.extend(persisted)
                self._buffered_blobs.extend(blobs)
                if not self._holding:
                    self._publish(result.lines)
                    return result
                self._held.extend(result.lines)
                self._held_needs_sync = self._held_needs_sync or sync
                if ends_turn:
                    # The turn never reached the model: shown now, written only with a
                    # later turn that does.
                    self._release_held()
                return result
            if not self.materialized:
                self._open_sink()
            self._write(persisted, blobs)
            result.acknowledged = True
            if sync or self._held_needs_sync or (
                self._unsynced and self._options.fsync is FsyncPolicy.ALWAYS
            ):
                await self._sync()
                result.synced = True
            self._release_held(result.lines)
            return result

    async def persist(self) -> None:
        """Materialise now (idempotent): create the file, write the meta and the buffer,
        fsync as the policy asks, then publish the lines held for the file."""
        async with self._lock:
            self._check_open()
            if not self.materialized:
                self._open_sink()
                self._write([], [])
                if self._held_needs_sync or self._options.fsync is FsyncPolicy.ALWAYS:
                    await self._sync()
                if self._held:
                    self._release_held()

    async def sync(self) -> None:
        """fsync now (a barrier: everything recorded before is on disk after it)."""
        async with self._lock:
            if self.materialized and self._unsynced:
                await self._sync()

    async def close(self) -> None:
        """fsync and close; subscribers end. Items buffered before any user input are
        dropped with the thread, as in Codex (a thread without a turn leaves no file)."""
        async with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self.materialized:
                    await asyncio.to_thread(self._sink.close)
                elif self._held:
                    self._release_held()  # never written: shown, as a failed turn's lines
            finally:
                # Also when the last fsync failed (a full disk): a reader waiting for
                # more lines would otherwise wait forever.
                for subscriber in self._subscribers:
                    subscriber.close()
                self._subscribers.clear()

    # -- subscribers ------------------------------------------------------------------

    def unwritten(self) -> list[RolloutLine]:
        """The lines published but not in the sink yet (a lazy log before its file
        appears), in order; lines not published yet reach every subscriber when they are."""
        waiting = self._unpublished + self._held
        first = next((line.ordinal for line in waiting if line.ordinal is not None), None)
        if first is None:
            return list(self._buffer)
        return [line for line in self._buffer
                if line.ordinal is not None and line.ordinal < first]

    def subscribe(self, capacity: int | None = None) -> Subscription:
        """Lines recorded from now on, in order, after they reached the sink."""
        subscription = Subscription(capacity or self._options.subscriber_capacity)
        if self._closed:
            subscription.close()
        else:
            self._subscribers.append(subscription)
        return subscription

    # -- internals --------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the rollout log is closed")

    def _take_ordinal(self) -> int:
        ordinal = self._next_ordinal
        self._next_ordinal += 1
        return ordinal

    def _encode(self, payload: Any, ordinal: int | None) -> RolloutLine:
        if type(payload) is ExecCommandOutputDelta:
            payload = self._redact_chunk(payload)
        line = RolloutLine.create(payload, ordinal=ordinal)
        redacted = self._redactor.line(line.raw)
        if redacted is not line.raw and redacted != line.raw:
            # Subscribers get what is on disk, so replay equals live.
            line = decode_line(redacted)
        return line

    def _redact_chunk(self, delta: ExecCommandOutputDelta) -> ExecCommandOutputDelta:
        """A command's live output is base64, which the line's redaction cannot see
        into: its bytes are redacted here (subscribers get them redacted too)."""
        try:
            data = base64.b64decode(delta.chunk, validate=True)
        except (binascii.Error, ValueError):
            return delta
        redacted = self._redactor.raw(data)
        if redacted is data:
            return delta
        return msgspec.structs.replace(delta, chunk=base64.b64encode(redacted).decode("ascii"))

    def _open_sink(self) -> None:
        torn = self._sink.open()
        self._materialized = True
        if torn is not None:
            self._note_torn_tail(torn)

    def _note_torn_tail(self, torn: TornTail) -> None:
        notice = (
            f"{self._sink.path}: cut a torn final line ({torn.length} bytes at offset "
            f"{torn.offset}, line {torn.number}) before appending"
        )
        # Said once, by whoever opened the log (a frontend prints its notices).
        self.notices.append(notice)

    def _write(self, lines: list[RolloutLine], blobs: list[tuple[str, bytes]]) -> None:
        head, head_blobs = self._buffer, self._buffered_blobs
        self._buffer, self._buffered_blobs = [], []
        batch = head + lines
        try:
            # Blobs first, so an output_ref line never names bytes that are not there.
            for digest, data in head_blobs + blobs:
                self._sink.store_blob(digest, data)
            if batch:
                self._sink.write(b"".join(line.raw + b"\n" for line in batch))
        except OSError:
            self._unwrite(head, head_blobs, lines)
            raise
        if batch:
            # (The buffered head was published when it was recorded.)
            self._unsynced = True

    def _unwrite(
        self, head: list[RolloutLine], head_blobs: list[tuple[str, bytes]],
        lines: list[RolloutLine],
    ) -> None:
        """After a batch failed (the sink took its bytes back): the log is as before it.

        Buffered lines go back to the buffer; the batch's own ordinals are given out again,
        so the file never shows a gap for lines that were not acknowledged. A sink that
        removed the file it had just created (its first batch failed) is no longer open.
        """
        self._buffer, self._buffered_blobs = head, head_blobs
        first = next((line.ordinal for line in lines if line.ordinal is not None), None)
        if first is not None:
            self._next_ordinal = first
        self._materialized = self._sink.is_open

    async def _sync(self) -> None:
        await asyncio.to_thread(self._sink.sync)
        self._unsynced = False

    def _release_held(self, lines: list[RolloutLine] | None = None) -> None:
        """Publish the held lines, then ``lines``; nothing is held after."""
        held, self._held = self._held, []
        self._holding = self._held_needs_sync = False
        self._publish(held + lines if lines else held)

    def _publish(self, lines: list[RolloutLine]) -> None:
        if self._unpublished:
            lines = self._unpublished + lines
            self._unpublished = []
        if not self._subscribers:
            return
        for line in lines:
            for subscriber in self._subscribers:
                subscriber.offer(line)
        self._subscribers = [s for s in self._subscribers if not s.closed]


def next_ordinal_after(path: Path) -> int:
    """The ordinal a resumed writer continues with: one past the file's last ordinal.

    Reads the file backwards until it finds a complete line with an ordinal; a file of
    an era without ordinals continues from its number of lines.
    """
    for line in read_lines_backward(path, block_size=CHUNK_BYTES):
        if not line.terminated or line.is_blank:
            continue  # blank, or a last line without its newline (torn or unfinished)
        try:
            ordinal = decode_line(line.data).ordinal
        except ValueError:
            continue
        if ordinal is not None:
            return ordinal + 1
    reader = RolloutReader(path)
    for _ in reader:
        pass
    return reader.line_count
