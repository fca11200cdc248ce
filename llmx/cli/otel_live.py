"""OpenTelemetry export of threads, live (``llmx exec``, the TUI, ``llmx app-server``) or
from their files (``llmx otel export``): rollout lines in, OTLP out, through one worker
thread per process.

The event loop only hands each line's bytes to a bounded queue (``put_nowait``), tagged
with the stream (one thread) it belongs to: a full queue drops the line and counts it, so
an exporter that is slow or down never slows or fails a turn. The worker decodes the
lines, folds each stream apart (:mod:`llmx.projections.otel_fold`) and exports the
records in batches through :mod:`llmx.cli.otel_sink`, the module that imports
OpenTelemetry; once an export fails, the rest are counted as not exported instead of
waiting on a receiver that is down. A live export also sends a turn's records and the
metrics a quarter of a second after the turn ends, so a long session is watched while it
runs. At the end, the process waits a bounded time for the worker and reports what did
not arrive.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from llmx import install_hint
from llmx.events.lines import LineError, decode_line
from llmx.projections.otel_fold import FoldOptions, OtelFold, Record, SpanRecord

if TYPE_CHECKING:
    from llmx.cli.otel_settings import OtelSettings
    from llmx.cli.otel_sink import OtlpSink

QUEUE_LINES = 4096
BATCH_RECORDS = 512
FLUSH_EVERY_S = 1.0
# A live turn's records and metrics go out this long after the turn ends, not at once:
# `llmx exec` closes its thread right after its turn, and the thread's span then goes
# in the same requests instead of a second round of them that the run's end waits for.
TURN_END_WAIT_S = 0.25
# How long the end of a run waits for the last exports.
CLOSE_WAIT_S = 3.0
_END = b""


class ExportSummary(NamedTuple):
    sent: int  # records the receivers accepted
    failed: int  # records exported and refused, or not exported once a receiver failed
    dropped: int  # lines dropped from a full queue
    missing_extra: bool  # the otel extra is not installed

    def problem(self) -> str | None:
        """One line for the end of the run, or None when everything arrived."""
        if self.missing_extra:
            return ("[otel] is configured but OpenTelemetry is not installed — "
                    + install_hint("otel"))
        if not (self.failed or self.dropped):
            return None
        parts = []
        if self.failed:
            parts.append(f"{self.failed} records were not exported (the receiver refused "
                         "them, was unreachable or too slow)")
        if self.dropped:
            parts.append(f"{self.dropped} lines were dropped from a full export queue")
        return "otel: " + "; ".join(parts)


class OtelExport:
    """One process's export: :meth:`offer` each stream's lines (a stream is one thread,
    named by a key of the caller's choosing), :meth:`end` a stream when its thread
    closes, then :meth:`close`."""

    def __init__(self, settings: OtelSettings, *, service_name: str, version: str,
                 capacity: int = QUEUE_LINES, live: bool = True,
                 on_ready: Callable[[], None] | None = None) -> None:
        """``on_ready`` is called in the worker once the exporters are built (the SDK
        imported), or known to be missing."""
        self.settings = settings
        self._on_ready = on_ready
        self._service = service_name
        self._version = version
        # A live export sends the metrics at each turn's end; a backfill only at its end
        # (its turns are past: nobody is watching them happen).
        self._live = live
        self._queue: queue.Queue[tuple[str, bytes]] = queue.Queue(maxsize=capacity)
        self._services: dict[str, str] = {}
        self.dropped = 0
        self._sink: OtlpSink | None = None
        self._missing = False
        self._broken = False
        self._failed_here = 0
        self._worker = threading.Thread(target=self._work, name="llmx-otel", daemon=True)
        self._worker.start()

    def stream(self, key: str, service_name: str) -> None:
        """Name the service whose resource the records of stream ``key`` carry (default:
        the process's own)."""
        self._services[key] = service_name

    def offer(self, line: bytes, *, key: str = "", wait: bool = False) -> None:
        """Queue one line's bytes; never blocks unless ``wait`` (a file being exported,
        where nothing is in a hurry and nothing may be dropped)."""
        if wait:
            self._queue.put((key, line))
            return
        try:
            self._queue.put_nowait((key, line))
        except queue.Full:
            self.dropped += 1

    def end(self, key: str, *, wait: bool = False) -> None:
        """Stream ``key`` is over (its thread closed): its thread span goes out. Should the
        queue be full (and not ``wait``), the span goes out at :meth:`close` instead."""
        if wait:
            self._queue.put((key, _END))
            return
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait((key, _END))

    def close(self, wait: float = CLOSE_WAIT_S) -> ExportSummary:
        """End every stream, wait at most ``wait`` seconds for the worker; what did not
        arrive by then is counted as failed."""
        with contextlib.suppress(queue.Full):
            self._queue.put(_CLOSE, timeout=wait)
        self._worker.join(wait)
        sink = self._sink
        unfinished = self._queue.qsize() if self._worker.is_alive() else 0
        sent = sink.sent if sink is not None else 0
        failed = (sink.failed if sink is not None else 0) + self._failed_here + unfinished
        if self._worker.is_alive() and failed == 0:
            failed = 1  # the last batch was still on its way
        return ExportSummary(sent, failed, self.dropped, self._missing)

    # -- the worker ----------------------------------------------------------------------

    def _fold(self) -> OtelFold:
        settings = self.settings
        return OtelFold(FoldOptions(settings.log_user_prompt, settings.log_agent_responses,
                                    settings.tool_result_max_bytes, self._version))

    def _work(self) -> None:
        from llmx.cli.otel_sink import OtelMissing, OtlpSink

        try:
            self._sink = OtlpSink(self.settings, service_name=self._service,
                                  version=self._version)
        except OtelMissing:
            self._missing = True
        if self._on_ready is not None:
            self._on_ready()
        if self._sink is None:
            self._drain()
            return
        folds: dict[str, OtelFold] = {}
        pending: dict[str, list[Record]] = {}
        waiting = 0
        turn_ended = False
        # Batches go out when they are large or a second old: one request per record
        # would cost more than everything else the export does.
        due = time.monotonic() + FLUSH_EVERY_S
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, due - time.monotonic()))
            except queue.Empty:
                item = None
            if item is _CLOSE:
                break
            if item is not None:
                key, line = item
                fold = folds.get(key)
                if fold is None:
                    fold = folds[key] = self._fold()
                if line == _END:
                    records = fold.finish()
                    del folds[key]
                else:
                    records = _feed(fold, line)
                if records:
                    pending.setdefault(key, []).extend(records)
                    waiting += len(records)
                    if self._live and any(_ends_turn(r) for r in records):
                        turn_ended = True
                        due = min(due, time.monotonic() + TURN_END_WAIT_S)
            if waiting >= BATCH_RECORDS or time.monotonic() >= due:
                self._send(pending)
                if turn_ended:
                    self._flush_metrics()
                pending, waiting, turn_ended = {}, 0, False
                due = time.monotonic() + FLUSH_EVERY_S
        for key, fold in folds.items():
            pending.setdefault(key, []).extend(fold.finish())
        self._send(pending)
        self._sink.shutdown()

    def _drain(self) -> None:
        while self._queue.get() is not _CLOSE:
            pass

    def _send(self, pending: dict[str, list[Record]]) -> None:
        sink = self._sink
        if sink is None:
            return
        for key, records in pending.items():
            if not records:
                continue
            if self._broken:
                self._failed_here += len(records)
                continue
            before = sink.failed
            try:
                sink.export(records, service_name=self._services.get(key, self._service))
            except Exception:  # an exporter's own bug must not end the worker silently
                self._failed_here += len(records)
                self._broken = True
                continue
            if sink.failed > before and sink.sent == 0:
                # The receiver never took anything: stop trying, count the rest.
                self._broken = True

    def _flush_metrics(self) -> None:
        if self._sink is not None and not self._broken:
            self._sink.flush_metrics()


# The end of the whole export (a stream's end is its key with an empty line).
_CLOSE = ("", b"\0close")


def _feed(fold: OtelFold, line: bytes) -> list[Record]:
    try:
        decoded = decode_line(line.rstrip(b"\r\n"))
    except LineError:
        return []
    return fold.feed(decoded)


def _ends_turn(record: Record) -> bool:
    return isinstance(record, SpanRecord) and record.name == "llmx.turn"
