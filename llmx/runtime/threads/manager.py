"""``ThreadManager``: opens, resumes and forks threads, and closes what it opened.

It owns what a running thread is assembled from, so that no frontend does: the
configuration (with the frontend's flags as data), the sandbox, the event log (new,
resumed or ephemeral), ``history.jsonl``, the session index, the model client and the
HTTP client under it (shared by the threads of one manager), and ``notify``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from llmx.events.event_log import EventLog, RolloutOptions, next_ordinal_after
from llmx.events.ids import new_thread_id
from llmx.events.ops import Interrupt
from llmx.events.records import HistoryBase
from llmx.events.subscribers import DEFAULT_SUBSCRIBER_CAPACITY
from llmx.events.writer_lock import RolloutBusy
from llmx.runtime.authorship import session_meta
from llmx.runtime.config.loaded import LoadedConfig
from llmx.runtime.context_updates import ContextBaseline
from llmx.runtime.session import Session
from llmx.runtime.session_rollout import rollout_options
from llmx.runtime.session_types import HistoryItem, SessionSettings
from llmx.runtime.threads.errors import ThreadBusy, ThreadError
from llmx.runtime.threads.lookup import RefKind, ThreadRef, find_rollout, load_recorded
from llmx.runtime.threads.options import (
    ThreadOptions,
    check_trusted_cwd,
    load_thread_config,
    sandbox_for_mode,
    thread_settings,
)
from llmx.runtime.threads.thread import AgentThread, RevertFailed

if TYPE_CHECKING:
    import httpx

    from llmx.events.lines import RolloutLine
    from llmx.events.primitives import TokenUsage
    from llmx.projections.fork_point import ForkPoint
    from llmx.projections.lineage import RolloutSpan
    from llmx.runtime.mcp.connections import McpConnections

logger = logging.getLogger("llmx.runtime")


def _log_warning(message: str) -> None:
    logger.warning("%s", message)


class ThreadManager:
    """The one way a frontend runs agent threads (see :mod:`llmx.runtime`)."""

    def __init__(
        self,
        home: Path | None = None,
        *,
        originator: str = "llmx_exec",
        source: str = "exec",
        on_warning: Callable[[str], None] = _log_warning,
        model_env: Mapping[str, str] | None = None,
    ) -> None:
        """``originator`` and ``source`` are written into each new thread's
        ``session_meta`` and sent to the model provider (``"llmx_exec"``/``"exec"``,
        ``"codex_cli_rs"``/``"cli"`` for a TUI, ``"vscode"`` for an app-server client...).
        ``on_warning`` gets each problem that does not stop a thread (a config key
        llmx ignores, a torn tail cut before appending, a prompt not saved to history).
        ``model_env`` replaces ``os.environ`` for the providers' API keys.
        """
        if home is None:
            from llmx.events.home import llmx_home

            home = llmx_home()
        self.home = home
        self.originator = originator
        self.source = source
        self._warn = on_warning
        self._model_env = model_env
        self._threads: dict[str, AgentThread] = {}
        # Keyed by ``http_client_key``: plain http or TLS.
        self._http: dict[bool, httpx.AsyncClient] = {}

    # -- the door ------------------------------------------------------------------

    async def open(self, options: ThreadOptions) -> AgentThread:
        """A new thread. Its rollout file appears with its first user turn."""
        loaded = self._config(options)
        settings = self._settings(options, loaded, new_thread_id())
        rollout = self._rollout_options(loaded)
        # The file appears when the first request reached the model (the turn persists
        # the log then): a thread that fails before that leaves no session behind.
        log = EventLog.for_new_thread(
            self.home, session_meta(settings), ephemeral=options.ephemeral, options=rollout,
            until_persisted=True,
        )
        return await self._started(
            self._start(settings, loaded, log, options, history=[], meta_line=None,
                        inherited=[])
        )

    async def resume(self, ref: ThreadRef, options: ThreadOptions, *,
                     on_found: Callable[[Path], None] | None = None) -> AgentThread:
        """The recorded thread ``ref`` names, continued: its rollout is folded back into
        the model's context and new lines are appended to the same file (read but never
        written with ``ephemeral``).

        ``on_found`` is called with the rollout's path once its writer lock is held and
        before the fold, which runs off the event loop: a frontend can show the recorded
        transcript meanwhile, and nothing is appended to the file in between.
        """
        loaded = self._config(options)
        path = self._find(ref, options, loaded)
        self._refuse_open_twice(path)
        # The writer lock first: a rollout another process writes is refused before
        # anything is read, and nothing can be appended between the read and our writes.
        try:
            log = EventLog.resume(path, ephemeral=options.ephemeral,
                                  options=self._rollout_options(loaded))
        except RolloutBusy as busy:
            raise ThreadBusy(busy.what, busy.todo, path=path) from None
        except OSError as exc:
            raise ThreadError.from_os(exc, path, doing="cannot append to") from None
        try:
            if on_found is not None:
                on_found(path)
            # Off the event loop: a long session's fold takes a while (about half a
            # second for 100 MB), and the frontend keeps drawing and taking keys.
            recorded = await asyncio.to_thread(load_recorded, path)
            settings = self._settings(options, loaded, recorded.thread_id)
        except BaseException:
            await log.close()
            raise
        for notice in [*log.notices, *recorded.notices]:
            self._warn(notice)
        return await self._started(
            self._start(settings, loaded, log, options, history=recorded.history,
                        meta_line=recorded.meta_line, inherited=None,
                        token_usage=recorded.token_usage, baseline=recorded.baseline)
        )

    async def fork(
        self,
        ref: ThreadRef,
        options: ThreadOptions,
        *,
        turn: int | None = None,
        through_turn_id: str | None = None,
        before_turn_id: str | None = None,
    ) -> AgentThread:
        """A new thread that continues the history of the recorded thread ``ref``: all of
        it, or up to the end of turn number ``turn`` (from 1, as ``llmx inspect`` numbers
        turns), of the turn ``through_turn_id``, or up to the start of ``before_turn_id``.

        As Codex does, the fork's rollout is a new file whose ``session_meta`` names the
        parent (``forked_from_id``) and where the kept history ends (``history_base``: an
        ordinal and byte offset in the file that turn was recorded in, the parent's or,
        for a turn the parent inherited, an ancestor's); nothing is copied. The file is
        written at once. A parent running a turn in this manager is refused: interrupt it
        or let the turn end first.
        """
        # Imported here: only a fork reads where its parent's history ends.
        from llmx.projections.lineage import (
            LineageError,
            RolloutSpan,
            read_history_base,
            resolve_lineage,
        )

        loaded = self._config(options)
        running = self._threads.get(ref.value) if ref.kind is RefKind.ID else None
        if running is not None and running.turn_running:
            raise ThreadError(f"thread {running.thread_id} is running a turn",
                              "interrupt it or wait for the turn to end, then fork")
        parent_path = self._find(ref, options, loaded)
        try:
            parents = resolve_lineage(parent_path)
        except (LineageError, OSError) as exc:
            raise ThreadError(str(exc), "restore the parent rollout, or fork another") from None
        cut: Sequence[RolloutSpan] | None = None
        if turn is None and through_turn_id is None and before_turn_id is None:
            end_byte, end_ordinal = _history_end(parent_path)
            base_thread = None
            inherited = [*parents[:-1], RolloutSpan(parent_path, end_byte, inherited=True)]
        else:
            point = _fork_point(parents, turn, through_turn_id, before_turn_id)
            end_byte, end_ordinal, base_thread = point.end_byte, point.end_ordinal, \
                point.thread_id
            inherited = cut = list(point.spans)
        recorded = await asyncio.to_thread(load_recorded, parent_path, cut)
        for notice in recorded.notices:
            self._warn(notice)
        # The parent (the thread asked for), also when the cut lies in an ancestor.
        parent_id = read_history_base(parent_path)[0] or recorded.thread_id
        running = self._threads.get(parent_id)
        if running is not None and running.turn_running:
            raise ThreadError(f"thread {parent_id} is running a turn",
                              "interrupt it or wait for the turn to end, then fork")
        settings = self._settings(options, loaded, new_thread_id())
        meta = session_meta(settings)
        meta.forked_from_id = parent_id
        meta.forked_from_ordinal_exclusive = end_ordinal
        meta.history_base = HistoryBase(base_thread or parent_id, end_ordinal, end_byte)
        log = EventLog.for_new_thread(self.home, meta, ephemeral=options.ephemeral,
                                      options=self._rollout_options(loaded),
                                      next_ordinal=end_ordinal)
        # Codex writes a fork's file at once; its meta line is published with the
        # fork's first recorded line, like a new thread's.
        try:
            await log.persist()
        except OSError as exc:
            await log.close()
            raise ThreadError.from_os(exc, log.path or parent_path,
                                      doing="cannot create") from None
        return await self._started(
            self._start(settings, loaded, log, options, history=recorded.history,
                        meta_line=None, inherited=inherited,
                        token_usage=recorded.token_usage, baseline=recorded.baseline)
        )

    async def revert(self, thread: AgentThread, before_turn_id: str,
                     options: ThreadOptions) -> AgentThread:
        """``thread`` with its history cut back to the start of turn ``before_turn_id``
        (that turn and every later one leave it), continued as the same thread.

        As Codex 0.169 does: a running turn is interrupted and the thread shut down; its
        history goes on in a new segment file of the same thread (``_<segment>`` in the
        name) whose ``history_base`` ends where the turn began; the older file keeps the
        dropped turns; files in the workspace are not touched. The thread comes back with
        the settings it ran with (a turn's model or sandbox change included) and the
        token total of the kept turns. A turn the history does not hold is refused
        before the thread is touched; a failure after it stopped reopens the thread as
        it was and raises :class:`RevertFailed`, which holds it.
        """
        from llmx.runtime.threads.revert import (
            check_turn,
            lineage_of,
            revert_point,
            segment_meta,
        )

        path = thread.rollout_path
        if path is None:
            raise ThreadError(f"thread {thread.thread_id} is ephemeral: no history is "
                              "recorded to revert", "fork it, or start a recorded thread")
        check_turn(lineage_of(path), before_turn_id)
        if not thread.closed:
            if thread.turn_running:
                await thread.submit(Interrupt())
            await thread.close()
        settings = thread.settings
        loaded = self._config(options)
        log: EventLog | None = None
        try:
            point = revert_point(lineage_of(path), before_turn_id)
            log = EventLog.for_new_thread(self.home, segment_meta(path, point),
                                          options=self._rollout_options(loaded),
                                          next_ordinal=point.end_ordinal,
                                          segment_id=new_thread_id())
            try:
                await log.persist()
            except OSError as exc:
                raise ThreadError.from_os(exc, log.path or path, doing="cannot create") from None
            segment = log.path or path
            recorded = await asyncio.to_thread(load_recorded, segment)
        except ThreadError as exc:
            if log is not None:
                await log.close()
                # Only its session_meta, written a moment ago: the thread goes on as it was.
                if log.path is not None:
                    log.path.unlink(missing_ok=True)
            raise RevertFailed(exc, await self._reopen(path, settings, options, loaded)) \
                from None
        return self._start(settings, loaded, log, options, history=recorded.history,
                           meta_line=None, inherited=list(point.spans),
                           token_usage=recorded.token_usage, baseline=recorded.baseline)

    async def _reopen(self, path: Path, settings: SessionSettings, options: ThreadOptions,
                      loaded: LoadedConfig) -> AgentThread:
        """The thread of ``path`` continued with ``settings`` (a revert that failed)."""
        log = EventLog.resume(path, options=self._rollout_options(loaded))
        try:
            recorded = await asyncio.to_thread(load_recorded, path)
        except BaseException:
            await log.close()
            raise
        return self._start(settings, loaded, log, options, history=recorded.history,
                           meta_line=recorded.meta_line, inherited=None,
                           token_usage=recorded.token_usage, baseline=recorded.baseline)

    def thread(self, thread_id: str) -> AgentThread | None:
        """The open thread ``thread_id``, if this manager runs it."""
        return self._threads.get(thread_id)

    @property
    def threads(self) -> list[AgentThread]:
        """The threads open now, oldest first."""
        return list(self._threads.values())

    async def close(self) -> None:
        """Close every open thread (each after its running turn), then the HTTP clients."""
        try:
            for thread in list(self._threads.values()):
                await thread.close()
        finally:
            clients, self._http = list(self._http.values()), {}
            for client in clients:
                await client.aclose()

    async def __aenter__(self) -> ThreadManager:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- assembling a thread -----------------------------------------------------------

    def _config(self, options: ThreadOptions) -> LoadedConfig:
        if not options.cwd.is_dir():
            raise ThreadError(f"{options.cwd}: no such directory", "pass an existing directory")
        loaded = load_thread_config(self.home, options, self._warn)
        if options.require_trusted_cwd:
            check_trusted_cwd(loaded, options.cwd)
        return loaded

    def _find(self, ref: ThreadRef, options: ThreadOptions, loaded: LoadedConfig) -> Path:
        index = loaded.config.index
        return find_rollout(self.home, ref, cwd=options.cwd, read_only=options.ephemeral,
                            index_url=index.url, machine=index.machine)

    def _settings(self, options: ThreadOptions, loaded: LoadedConfig,
                  thread_id: str) -> SessionSettings:
        return thread_settings(options, loaded, thread_id, originator=self.originator,
                               source=self.source)

    def _refuse_open_twice(self, path: Path) -> None:
        for thread in self._threads.values():
            if thread.rollout_path == path:
                raise ThreadError(f"thread {thread.thread_id} is already open here",
                                  "use the open thread, or close it first")

    @staticmethod
    def _rollout_options(loaded: LoadedConfig) -> RolloutOptions:
        return rollout_options(loaded.config.rollout,
                               subscriber_capacity=DEFAULT_SUBSCRIBER_CAPACITY)

    def _start(
        self,
        settings: SessionSettings,
        loaded: LoadedConfig,
        log: EventLog,
        options: ThreadOptions,
        *,
        history: list[HistoryItem],
        meta_line: RolloutLine | None,
        inherited: list[RolloutSpan] | None,
        token_usage: TokenUsage | None = None,
        baseline: ContextBaseline | None = None,
    ) -> AgentThread:
        from llmx.runtime.models.wires import open_model_client

        if baseline is not None and baseline.collaboration is not None:
            # A thread goes on in the mode its last turn ran in, as in Codex.
            settings = msgspec.structs.replace(settings, collaboration=baseline.collaboration)
        index = None
        prompt_history = None
        if log.path is not None:
            from llmx.runtime.session_history import PromptHistory
            from llmx.runtime.session_index_updates import SessionIndexUpdates

            # The session index learns of the rollout as turns end.
            index = SessionIndexUpdates(self.home)
            prompt_history = PromptHistory.for_home(self.home, loaded.config.history,
                                                    self._warn)
        model = open_model_client(
            loaded.config.model_provider, loaded.provider, originator=self.originator,
            env=self._model_env, http_client=self._http_client(loaded),
        )
        if loaded.config.mcp_servers:
            settings.mcp = self._mcp(loaded, settings)
        session = Session(settings, log, model, history=history, index=index,
                          prompt_history=prompt_history, token_usage=token_usage,
                          baseline=baseline,
                          sandbox_for=sandbox_for_mode(options, loaded, settings.thread_id))
        # A fork's file exists before its first turn: listings show it from now on.
        session.update_index()
        thread = AgentThread(session, model, loaded.config, meta_line=meta_line,
                             inherited=inherited, on_closed=self._forget)
        self._threads[thread.thread_id] = thread
        return thread

    def _mcp(self, loaded: LoadedConfig, settings: SessionSettings) -> McpConnections | None:
        """The thread's MCP servers, starting (the SDK is imported only now); their
        stderr is kept under the home's ``log/mcp``."""
        from llmx.runtime.mcp.config import parse_servers
        from llmx.runtime.mcp.connections import McpConnections
        from llmx.runtime.mcp.stderr_log import mcp_log_dir

        servers = parse_servers(loaded.config.mcp_servers)
        if not any(server.enabled for server in servers.values()):
            return None
        connections = McpConnections(servers, cwd=settings.cwd,
                                     log_dir=mcp_log_dir(self.home))
        connections.start()
        return connections

    async def _started(self, thread: AgentThread) -> AgentThread:
        """``thread`` once its required MCP servers run; closed, and an error, if one
        of them failed to start."""
        connections = thread.settings.mcp
        if connections is None:
            return thread
        from llmx.runtime.mcp.connections import McpStartupError

        try:
            await connections.wait_required()
        except McpStartupError as exc:
            await thread.close()
            raise ThreadError(
                f"MCP server `{exc.server}` is required but did not start: {exc}",
                f"fix [mcp_servers.{exc.server}] in config.toml, or set required = false",
            ) from None
        return thread

    def _forget(self, thread: AgentThread) -> None:
        if self._threads.get(thread.thread_id) is thread:
            del self._threads[thread.thread_id]

    def _http_client(self, loaded: LoadedConfig) -> httpx.AsyncClient:
        """One HTTP client per kind of provider connection, shared by the threads."""
        from llmx.runtime.models.client import http_client_for, http_client_key

        key = http_client_key(loaded.provider)
        client = self._http.get(key)
        if client is None:
            client = self._http[key] = http_client_for(loaded.provider)
        return client


def _fork_point(spans: list[RolloutSpan], turn: int | None, through_turn_id: str | None,
                before_turn_id: str | None) -> ForkPoint:
    from llmx.projections.fork_point import ForkPointError, fork_point

    try:
        return fork_point(spans, turn=turn, through_turn_id=through_turn_id,
                          before_turn_id=before_turn_id)
    except ForkPointError as exc:
        raise ThreadError(str(exc), "pick an ended turn ('llmx inspect' lists them)") from None
    except OSError as exc:
        raise ThreadError.from_os(exc, spans[-1].path, doing="cannot read") from None


def _history_end(path: Path) -> tuple[int, int]:
    """``(end_byte_offset, end_ordinal_exclusive)`` of the complete lines of ``path``."""
    from llmx.events.raw_lines import read_lines_backward

    try:
        end = 0
        for line in read_lines_backward(path):
            end = line.end if line.terminated else line.start
            break
        return end, next_ordinal_after(path)
    except OSError as exc:
        raise ThreadError.from_os(exc, path, doing="cannot read") from None
