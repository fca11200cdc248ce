"""What a client does to a loaded thread's history: ``thread/revert``, ``thread/rollback``
and ``thread/compact/start``.

A revert goes through the runtime's door as Codex 0.169's does: the thread stops (a
running turn interrupted first), its history goes on in a new segment of the same thread
that ends where the turn began, and it is loaded again; the client sees it unloaded, idle
again, the answer (the thread, without turns) and then ``thread/reverted``.

The others are ops submitted through the door; what the client is told comes from
the thread's event stream like everything else. A rollback is answered once its
``thread_rolled_back`` line has been folded (with the thread as ``thread/read`` then
shows it, the dropped turns gone), or with the refusal the thread recorded. A compaction
is answered at once and runs as a turn of its own (``turn/started``, the
``contextCompaction`` item, ``turn/completed``); one asked for while a turn runs
interrupts that turn first, as Codex does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmx.cli.app_server.connection import ANSWERED
from llmx.cli.app_server.live_threads import recorded_fold
from llmx.cli.app_server.params import (
    ThreadIdParams,
    ThreadRevertParams,
    ThreadRollbackParams,
    decode,
)
from llmx.cli.app_server.rpc import INTERNAL_ERROR, RpcError, invalid_request
from llmx.events.event_msgs import ErrorEvent
from llmx.events.ops import Compact, Interrupt, ThreadRollback
from llmx.projections.app_server.threads import preview_of
from llmx.runtime import RevertFailed, ThreadError

if TYPE_CHECKING:
    from llmx.cli.app_server.connection import Connection
    from llmx.cli.app_server.live_threads import LiveThreads
    from llmx.events.lines import RolloutLine

_ROLLBACK_FAILED = "thread_rollback_failed"


def _rollback_outcome(line: RolloutLine) -> bool:
    if line.payload_type == "thread_rolled_back":
        return True
    if line.payload_type != "error":
        return False
    item = line.item()
    return isinstance(item, ErrorEvent) and item.codex_error_info == _ROLLBACK_FAILED


class HistoryOps:
    def __init__(self, threads: LiveThreads) -> None:
        self.threads = threads
        # Threads with a rollback (or a revert) asked for and not answered yet.
        self._rolling_back: set[str] = set()
        self._reverting: set[str] = set()

    def handlers(self) -> dict[str, Any]:
        return {
            "thread/revert": self.thread_revert,
            "thread/rollback": self.thread_rollback,
            "thread/compact/start": self.thread_compact_start,
        }

    async def thread_revert(self, conn: Connection, raw: Any) -> Any:
        params = decode(raw, ThreadRevertParams)
        live = self.threads.loaded(params.thread_id)
        thread_id = live.thread_id
        if thread_id in self._reverting:
            raise invalid_request(f"thread {thread_id} is being reverted already")
        self._reverting.add(thread_id)
        try:
            manager = self.threads.manager(conn)
            try:
                agent = await manager.revert(live.agent, params.before_turn_id, live.options)
            except RevertFailed as exc:
                await live.drained()
                self.threads.adopt(conn, exc.thread, await recorded_fold(exc.thread),
                                   live.options)
                raise RpcError(INTERNAL_ERROR, f"failed to revert thread {thread_id}: "
                                               f"{exc}") from None
            except ThreadError as exc:
                # Refused before the thread stopped (a turn it does not hold: Codex's words).
                raise invalid_request(str(exc)) from None
            # Everything the stopped thread wrote (an interrupted turn's end) goes first.
            await live.drained()
            conn.notify("thread/status/changed",
                        {"threadId": thread_id, "status": {"type": "notLoaded"}})
            fold = await recorded_fold(agent)
            reverted = self.threads.adopt(conn, agent, fold, live.options)
            conn.notify("thread/status/changed",
                        {"threadId": thread_id, "status": reverted.status()})
        finally:
            self._reverting.discard(thread_id)
        result = self.threads.response(reverted, [], preview_of(fold))
        # The kept turns are read with thread/read (llmx serves no turn pages to cursor).
        conn.respond(conn.current_request_id(), {"thread": result["thread"],
                                                 "turnsBackwardsCursor": None,
                                                 "itemsBackwardsCursor": None})
        conn.notify("thread/reverted", {"threadId": thread_id})
        return ANSWERED

    async def thread_rollback(self, conn: Connection, raw: Any) -> dict[str, Any]:
        params = decode(raw, ThreadRollbackParams)
        if params.num_turns < 1:
            raise invalid_request("numTurns must be >= 1")
        live = self.threads.loaded(params.thread_id)
        if live.thread_id in self._rolling_back:
            raise invalid_request("rollback already in progress for this thread")
        self._rolling_back.add(live.thread_id)
        try:
            outcome = live.watch(_rollback_outcome)
            try:
                await live.agent.submit(ThreadRollback(num_turns=params.num_turns))
            except ThreadError as exc:
                outcome.cancel()
                raise RpcError(INTERNAL_ERROR, f"failed to start rollback: {exc}") from None
            line = await outcome
        finally:
            self._rolling_back.discard(live.thread_id)
        item = line.item()
        if isinstance(item, ErrorEvent):
            raise invalid_request(item.message)
        result = self.threads.response(live, list(live.fold.turns), preview_of(live.fold))
        return {"thread": result["thread"]}

    async def thread_compact_start(self, conn: Connection, raw: Any) -> dict[str, Any]:
        params = decode(raw, ThreadIdParams)
        live = self.threads.loaded(params.thread_id)
        try:
            if live.active_turn_id is not None:
                await live.agent.submit(Interrupt())
            await live.agent.submit(Compact())
        except ThreadError as exc:
            raise RpcError(INTERNAL_ERROR, f"failed to start compaction: {exc}") from None
        return {}
