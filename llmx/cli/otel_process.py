"""A live run's OpenTelemetry export in a process of its own.

The OpenTelemetry SDK costs a run about 130 ms of CPU to import, and folding, encoding and
sending the records more: in a worker thread of the run's own process all of it holds the
interpreter lock the run's event loop needs, so every wake-up of the loop (a streamed
event, a command's output) waited behind it. :class:`ProcessExport` leaves the run only
the handing over of each line's bytes: the event loop puts them in a bounded queue
(``put_nowait``; a full queue drops and counts), a writer thread copies them, a burst at a
time, to the pipe of a child process (``python -m llmx.cli.otel_process``), and the
child, whose interpreter is its own, runs :class:`llmx.cli.otel_live.OtelExport` on them:
it imports the SDK at once, folds, batches and exports, and at the end writes its counts
on its stdout. Its CPU (about 250 ms on a short run, most of it the imports of the SDK,
its exporters and ``requests``) is spent on the same cores as the run's: it runs as a
batch job (:func:`_beside_the_run`).

The pipe's frames, one per line, fields split by a tab (a key, a service name and a
rollout line hold no tab nor newline: JSON escapes them): ``S key service`` names a
stream's service, ``L key line`` carries a line, ``E key`` ends a stream; the first line
is the settings as JSON, the end of the pipe ends the export. The child starts a session
of its own, so a Ctrl-C meant for the run does not end it; it ends when the pipe closes,
so a run that is killed does not leave it behind.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from llmx.cli.otel_settings import ExporterSpec, OtelSettings, Tls

if TYPE_CHECKING:
    from llmx.cli.otel_live import ExportSummary

QUEUE_LINES = 4096
# How long the end of a run waits for the child's last exports (the child itself gives
# its worker CLOSE_WAIT_S of the export in-process; this adds the pipe's last lines).
CLOSE_WAIT_S = 3.5
# The writer gathers the frames that come within this long of the first into one write:
# a streamed response or a command's output is a burst of lines, and a write per line
# woke the child (and the writer) once per line. The child sends its batches once a
# second, so the delay is not seen downstream; a line offered ``at_once`` (a turn's end)
# and the end of the run do not wait for it.
GATHER_S = 0.05
_CLOSE = b"\0close"


def settings_json(settings: OtelSettings) -> str:
    """``settings`` as one line of JSON (NamedTuples as arrays)."""
    return json.dumps(settings)


def settings_from_json(text: str) -> OtelSettings:
    raw = json.loads(text)

    def spec(value: Any) -> ExporterSpec | None:
        if value is None:
            return None
        kind, endpoint, protocol, headers, tls = value
        return ExporterSpec(kind, endpoint, protocol, dict(headers),
                            Tls(*tls) if tls is not None else None)

    environment, logs, traces, metrics, prompts, responses, max_bytes = raw
    return OtelSettings(environment, spec(logs), spec(traces), spec(metrics), bool(prompts),
                        bool(responses), max_bytes)


def _clean(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ")


class ProcessExport:
    """The interface of :class:`llmx.cli.otel_live.OtelExport` (live), its work done in
    a child process."""

    def __init__(self, settings: OtelSettings, *, service_name: str, version: str,
                 capacity: int = QUEUE_LINES) -> None:
        self.settings = settings
        self.dropped = 0
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=capacity)
        self._header = json.dumps({"settings": settings_json(settings),
                                   "service": service_name, "version": version})
        self._child: subprocess.Popen[bytes] | None = None
        self._lost = 0  # lines the child never got (it could not start, or died)
        self._hurry = threading.Event()  # a turn ended, or the run: write without waiting
        self._writer = threading.Thread(target=self._write, name="llmx-otel-pipe",
                                        daemon=True)
        self._writer.start()

    def stream(self, key: str, service_name: str) -> None:
        self._put(b"S\t" + _clean(key).encode() + b"\t" + _clean(service_name).encode())

    def offer(self, line: bytes, *, key: str = "", at_once: bool = False) -> None:
        """Queue one line's bytes; never blocks: a full queue drops it and counts.
        ``at_once``: hand it (and what came before it) to the child without gathering
        more."""
        try:
            self._queue.put_nowait(b"L\t" + key.encode() + b"\t" + line)
        except queue.Full:
            self.dropped += 1
        if at_once:
            self._hurry.set()

    def end(self, key: str) -> None:
        self._put(b"E\t" + key.encode())

    def _put(self, frame: bytes) -> None:
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(frame)

    def close(self, wait: float = CLOSE_WAIT_S) -> ExportSummary:
        """Close the pipe, wait at most ``wait`` seconds for the child's counts; what is
        not known to have arrived by then is counted as failed."""
        from llmx.cli.otel_live import ExportSummary

        deadline = time.monotonic() + wait
        with contextlib.suppress(queue.Full):
            self._queue.put(_CLOSE, timeout=wait)
        self._hurry.set()
        self._writer.join(max(0.0, deadline - time.monotonic()))
        unsent = self._queue.qsize() if self._writer.is_alive() else 0
        child = self._child
        counts: dict[str, Any] = {}
        if child is not None:
            out = _counts_line(child, deadline)
            if out is None:  # too slow: what it did not say is counted as failed
                child.kill()
            with contextlib.suppress(ValueError):
                decoded = json.loads(out or b"{}")
                counts = decoded if isinstance(decoded, dict) else {}
            # The line is all the run needs: the child's exit (its memory unmapped,
            # about 20 ms) is waited for beside the run, not in its way.
            threading.Thread(target=_reap, args=(child,), name="llmx-otel-reap",
                             daemon=True).start()
        sent = int(counts.get("sent", 0))
        failed = int(counts.get("failed", 0)) + unsent + self._lost
        if not counts and failed == 0:
            failed = 1  # the child never said what arrived
        return ExportSummary(sent, failed, self.dropped + int(counts.get("dropped", 0)),
                             bool(counts.get("missing_extra", False)))

    # -- the writer thread ---------------------------------------------------------------

    def _write(self) -> None:
        try:
            child = subprocess.Popen(
                [sys.executable, "-m", "llmx.cli.otel_process"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError:
            self._drain()
            return
        self._child = child
        pipe = child.stdin
        assert pipe is not None
        frames: list[bytes] = []
        try:
            pipe.write(self._header.encode() + b"\n")
            while True:
                frames = self._gather()
                closed = frames[-1] is _CLOSE
                if closed:
                    frames.pop()
                # A line comes with its newline (encode_line), the other frames without.
                pipe.write(b"".join(frame if frame.endswith(b"\n") else frame + b"\n"
                                    for frame in frames))
                pipe.flush()
                if closed:
                    break
        except OSError:  # the child died: what it did not get is lost
            self._lost += sum(1 for frame in frames if frame.startswith(b"L"))
            self._drain()
        with contextlib.suppress(OSError):
            pipe.close()

    def _gather(self) -> list[bytes]:
        """The next frames: the first one waited for, then those that come within
        GATHER_S of it (or until one is offered ``at_once``, or :meth:`close` is
        called); ``_CLOSE`` only last."""
        frames = [self._queue.get()]
        if frames[0] is not _CLOSE:
            self._hurry.wait(GATHER_S)
            self._hurry.clear()
        with contextlib.suppress(queue.Empty):
            while frames[-1] is not _CLOSE:
                frames.append(self._queue.get_nowait())
        return frames

    def _drain(self) -> None:
        while (frame := self._queue.get()) is not _CLOSE:
            if frame.startswith(b"L"):
                self._lost += 1


def _counts_line(child: subprocess.Popen[bytes], deadline: float) -> bytes | None:
    """The child's line of counts, or None if it did not come by ``deadline``."""
    assert child.stdout is not None
    fd = child.stdout.fileno()
    out = b""
    while not out.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:  # it ended without a word (it died): nothing is known to be sent
            return out
        out += chunk
    return out


def _reap(child: subprocess.Popen[bytes]) -> None:
    child.wait()
    if child.stdout is not None:
        child.stdout.close()


def _serve(source: IO[bytes], out: IO[str],
           on_ready: Callable[[], None] | None = None) -> None:
    """The child: frames from ``source`` into an in-process export; counts to ``out``."""
    from llmx.cli.otel_live import OtelExport

    header = json.loads(source.readline())
    export = OtelExport(settings_from_json(header["settings"]),
                        service_name=header["service"], version=header["version"],
                        on_ready=on_ready)
    for raw in source:
        frame = raw.rstrip(b"\n")
        kind, _, rest = frame.partition(b"\t")
        if kind == b"L":
            key, _, line = rest.partition(b"\t")
            if line:
                export.offer(line, key=key.decode(), wait=True)
        elif kind == b"S":
            key, _, service = rest.partition(b"\t")
            export.stream(key.decode(), service.decode())
        elif kind == b"E":
            export.end(rest.decode(), wait=True)
    summary = export.close()
    out.write(json.dumps(summary._asdict()) + "\n")
    out.flush()


def _beside_the_run() -> None:
    """Make this process a batch job (Linux's ``SCHED_BATCH``; its threads inherit it):
    the same share of the CPU as before, so it keeps up and its end is not delayed, but
    its wake-ups (a pipe's lines, an exporter's reply) no longer preempt the run's own
    processes on a busy core."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


def _collect_again() -> None:
    """The SDK is imported: its modules' objects live as long as the process, so they
    are kept out of every later collection, and the collector runs again."""
    gc.freeze()
    gc.enable()


def main() -> None:
    _beside_the_run()
    # Importing the SDK and its exporters leaves some 37,000 objects behind and sets the
    # collector off about ninety times, to find a few hundred objects to free: 10-20 ms
    # of the imports' ~240 ms of CPU (see docs/performance.md).
    gc.disable()
    _serve(sys.stdin.buffer, sys.stdout, on_ready=_collect_again)
    # Everything is sent and said: the interpreter's teardown of the SDK's modules would
    # only keep the run waiting.
    os._exit(0)


if __name__ == "__main__":
    main()
