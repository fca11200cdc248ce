"""OpenTelemetry export of a thread, live (``llmx exec``) or from its files (``llmx otel
export``): rollout lines in, OTLP out, through one worker thread.

The event loop only hands each line's bytes to a bounded queue (``put_nowait``): a full
queue drops the line and counts it, so an exporter that is slow or down never slows or
fails a turn. The worker decodes the lines, folds them
(:mod:`llmx.projections.otel_fold`) and exports the records in batches through
:mod:`llmx.cli.otel_sink`, the module that imports OpenTelemetry; once an export fails,
the rest are counted as not exported instead of waiting on a receiver that is down. At
the end, the run waits a bounded time for the worker and reports what did not arrive.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from typing import TYPE_CHECKING, NamedTuple

from llmx.projections.otel_fold import FoldOptions, OtelFold, Record

if TYPE_CHECKING:
    from llmx.cli.otel_settings import OtelSettings
    from llmx.cli.otel_sink import OtlpSink

QUEUE_LINES = 4096
BATCH_RECORDS = 512
FLUSH_EVERY_S = 1.0
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
                    "install the otel extra (pip install 'llmx[otel]')")
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
    """One thread's (or one file's) export; :meth:`offer` lines, then :meth:`close`."""

    def __init__(self, settings: OtelSettings, *, service_name: str, version: str,
                 capacity: int = QUEUE_LINES) -> None:
        self.settings = settings
        self._service = service_name
        self._version = version
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=capacity)
        self.dropped = 0
        self._sink: OtlpSink | None = None
        self._missing = False
        self._broken = False
        self._failed_here = 0
        self._worker = threading.Thread(target=self._work, name="llmx-otel", daemon=True)
        self._worker.start()

    def offer(self, line: bytes, *, wait: bool = False) -> None:
        """Queue one line's bytes; never blocks unless ``wait`` (a file being exported,
        where nothing is in a hurry and nothing may be dropped)."""
        if wait:
            self._queue.put(line)
            return
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            self.dropped += 1

    def close(self, wait: float = CLOSE_WAIT_S) -> ExportSummary:
        """End the stream, wait at most ``wait`` seconds for the worker; what did not
        arrive by then is counted as failed."""
        with contextlib.suppress(queue.Full):
            self._queue.put(_END, timeout=wait)
        self._worker.join(wait)
        sink = self._sink
        unfinished = self._queue.qsize() if self._worker.is_alive() else 0
        sent = sink.sent if sink is not None else 0
        failed = (sink.failed if sink is not None else 0) + self._failed_here + unfinished
        if self._worker.is_alive() and failed == 0:
            failed = 1  # the last batch was still on its way
        return ExportSummary(sent, failed, self.dropped, self._missing)

    # -- the worker ----------------------------------------------------------------------

    def _work(self) -> None:
        from llmx.cli.otel_sink import OtelMissing, OtlpSink

        settings = self.settings
        fold = OtelFold(FoldOptions(settings.log_user_prompt, settings.log_agent_responses,
                                    settings.tool_result_max_bytes, self._version))
        try:
            self._sink = OtlpSink(settings, service_name=self._service, version=self._version)
        except OtelMissing:
            self._missing = True
            self._drain()
            return
        pending: list[Record] = []
        # Batches go out when they are large or a second old: one request per record
        # would cost more than everything else the export does.
        due = time.monotonic() + FLUSH_EVERY_S
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, due - time.monotonic()))
            except queue.Empty:
                line = None
            if line == _END:
                break
            if line is not None:
                try:
                    decoded = json.loads(line)
                except ValueError:
                    decoded = None
                if isinstance(decoded, dict):
                    pending.extend(fold.feed(decoded))
            if len(pending) >= BATCH_RECORDS or time.monotonic() >= due:
                self._send(pending)
                pending = []
                due = time.monotonic() + FLUSH_EVERY_S
        pending.extend(fold.finish())
        self._send(pending)
        self._sink.shutdown()

    def _drain(self) -> None:
        while self._queue.get() != _END:
            pass

    def _send(self, records: list[Record]) -> None:
        sink = self._sink
        if not records or sink is None:
            return
        if self._broken:
            self._failed_here += len(records)
            return
        before = sink.failed
        try:
            sink.export(records)
        except Exception:  # an exporter's own bug must not end the worker silently
            self._failed_here += len(records)
            self._broken = True
            return
        if sink.failed > before and sink.sent == 0:
            # The receiver never took anything: stop trying, count the rest.
            self._broken = True

