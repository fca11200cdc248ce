"""The OpenTelemetry export of every thread one process runs: exec's thread, the threads
the TUI opens, resumes and forks, the app-server's threads.

Each thread is watched through the runtime's door, by a subscription of its own beside
the one the frontend shows it from; its lines go, as one stream per thread, to the
export (:class:`llmx.cli.otel_process.ProcessExport`, in a process of its own) of that
thread's own ``[otel]`` table: threads of one process whose configurations differ
(``-c``, a profile, a project's config, the app-server's per-thread ``config``) each go
where their own table says, and threads with equal tables share one export. A thread
whose table names no exporter is not exported; the process that runs the threads never
imports OpenTelemetry.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from llmx.events.raw_lines import first_line

if TYPE_CHECKING:
    from llmx.cli.otel_process import ProcessExport
    from llmx.runtime import AgentThread


class ThreadExports:
    """Watches threads; :meth:`close` once they are closed."""

    def __init__(self, home: Path, service_name: str,
                 on_error: Callable[[str], None] | None = None) -> None:
        """``on_error`` hears a bad ``[otel]`` table (one line), and nothing is exported
        then; without it the :class:`~llmx.cli.errors.CommandError` is raised."""
        self.home = home
        self.on_error = on_error
        # The process's service: the resource of its metrics (each thread's spans and log
        # records carry its own originator, as `llmx otel export` of its file does).
        self.service_name = service_name
        # One export per distinct [otel] table (its settings' repr: they hold a dict).
        self._exports: dict[str, ProcessExport] = {}
        self._reported: set[str] = set()
        self._feeds: set[asyncio.Task[None]] = set()
        self._keys = itertools.count(1)

    def watch(self, thread: AgentThread) -> None:
        """Export ``thread``'s lines from now on (with its ``session_meta``). Call it before
        anything is submitted to the thread, so no line is missed."""
        export = self._start(thread)
        if export is None:
            return
        from llmx.events.lines import encode_line

        # One stream per watch: a thread resumed again later is a stream of its own.
        key = f"{thread.thread_id}#{next(self._keys)}"
        export.stream(key, thread.settings.originator)
        events = thread.subscribe()
        if thread.meta_line is not None:
            export.offer(encode_line(thread.meta_line), key=key)
        else:
            first = _first_line(thread.rollout_path)
            if first is not None:  # a fork writes its session_meta before it is returned
                export.offer(first, key=key)

        async def feed() -> None:
            try:
                async for line in events:
                    export.offer(encode_line(line), key=key,
                                 at_once=line.payload_type in _TURN_ENDS)
            finally:
                export.end(key)

        task = asyncio.get_running_loop().create_task(feed(), name=f"otel-{key}")
        self._feeds.add(task)
        task.add_done_callback(self._feeds.discard)

    def _start(self, thread: AgentThread) -> ProcessExport | None:
        """The export of ``thread``'s own ``[otel]`` table, started the first time a
        thread names it; None when the table names no exporter or is bad."""
        from llmx.cli.otel_settings import otel_configured

        if not otel_configured(thread.config):
            return None
        from llmx import __version__
        from llmx.cli.errors import CommandError
        from llmx.cli.otel_process import ProcessExport
        from llmx.cli.otel_settings import otel_settings

        try:
            settings = otel_settings(thread.config, self.home)
        except CommandError as exc:
            if self.on_error is None:
                raise
            if str(exc) not in self._reported:  # once per bad table, not per thread
                self._reported.add(str(exc))
                self.on_error(str(exc))
            return None
        key = repr(settings)
        export = self._exports.get(key)
        if export is None:
            export = self._exports[key] = ProcessExport(
                settings, service_name=self.service_name, version=__version__)
        return export

    async def close(self) -> str | None:
        """Wait for the watched threads' last lines (close the threads first), then for
        the export; what did not arrive, in one line, or None."""
        if self._feeds:
            await asyncio.gather(*self._feeds, return_exceptions=True)
        exports, self._exports = list(self._exports.values()), {}
        if not exports:
            return None
        from llmx.cli.otel_live import ExportSummary

        summaries = await asyncio.gather(*(asyncio.to_thread(export.close)
                                           for export in exports))
        return ExportSummary(sum(s.sent for s in summaries), sum(s.failed for s in summaries),
                             sum(s.dropped for s in summaries),
                             any(s.missing_extra for s in summaries)).problem()


# The lines that end a turn: the export sends a turn's records soon after it ends.
_TURN_ENDS = frozenset({"task_complete", "turn_aborted"})


def _first_line(path: Path | None) -> bytes | None:
    """The first complete line of ``path``, or None (no file yet, or empty)."""
    if path is None:
        return None
    try:
        line = first_line(path)
    except OSError:
        return None
    return None if line is None else line.data
