"""Requests about recorded threads: ``thread/list``, ``thread/read``, ``thread/archive``,
``thread/unarchive`` and ``thread/name/set``.

Listings come from the session index (rebuilt from the files whenever it drifts),
histories from a fold of the thread's rollout: the same projections ``llmx sessions``
and ``llmx replay`` use, never a second store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmx.cli.app_server.context import ServerContext, thread_id_param
from llmx.cli.app_server.params import (
    ThreadIdParams,
    ThreadListParams,
    ThreadReadParams,
    ThreadSetNameParams,
    decode,
)
from llmx.cli.app_server.rpc import invalid_request
from llmx.events.lines import LineError, RolloutLine, decode_line
from llmx.events.reader import RolloutFileError, read_rollout
from llmx.projections.app_server.notifications import AppServerFold
from llmx.projections.app_server.threads import ThreadFacts, wire_thread
from llmx.projections.lineage import LineageError, lines_forward, resolve_lineage
from llmx.projections.sessions.index import SessionIndex
from llmx.projections.sessions.listing import (
    CursorError,
    SessionRow,
    encode_cursor,
    get_session,
    list_sessions,
)

if TYPE_CHECKING:
    from llmx.cli.app_server.connection import Connection

# ``thread/list`` without ``sourceKinds`` lists interactive threads only, as Codex does.
_INTERACTIVE = ("cli", "vscode")
_DEFAULT_LIMIT = 25


def row_facts(row: SessionRow) -> ThreadFacts:
    return ThreadFacts(
        id=row.id, created_at=row.created_at_ms // 1000, updated_at=row.updated_at_ms // 1000,
        cwd=row.cwd, model_provider=row.model_provider, cli_version=row.cli_version,
        source=row.source, preview=row.preview, path=row.rollout_path, model=row.model,
        name=row.name, forked_from_id=row.forked_from_id, git_branch=row.git_branch,
    )


def _source_kind(source: str) -> str:
    return {"mcp": "appServer", "app_server": "appServer"}.get(source, source)


class StoredThreads:
    def __init__(self, context: ServerContext) -> None:
        self.context = context

    def handlers(self) -> dict[str, Any]:
        return {
            "thread/list": self.list,
            "thread/read": self.read,
            "thread/archive": self.archive,
            "thread/unarchive": self.unarchive,
            "thread/name/set": self.set_name,
        }

    # -- lookups ---------------------------------------------------------------------

    def find(self, thread_id: str) -> SessionRow | None:
        with SessionIndex.open(self.context.home) as index:
            index.sync()
            return get_session(index, thread_id)

    def history(self, row: SessionRow) -> AppServerFold:
        """The fold of the thread's whole history (its turns and items): a fork's or a
        revert's file continues the lines of its parents, folded first."""
        fold = AppServerFold(row.id)
        path = Path(row.rollout_path)
        try:
            for line in inherited_lines(path):
                fold.feed(line)
            lines = read_rollout(path)
        except (OSError, RolloutFileError) as exc:
            raise invalid_request(f"cannot read the rollout of thread {row.id}: {exc}") from None
        for line in lines:
            fold.feed(line)
        return fold

    def wire(self, row: SessionRow, *, with_turns: bool) -> dict[str, Any]:
        turns = self.history(row).turns if with_turns else []
        return wire_thread(row_facts(row), self.context.status_of(row.id), turns)

    # -- handlers --------------------------------------------------------------------

    async def list(self, conn: Connection, raw: Any) -> dict[str, Any]:
        params = decode(raw, ThreadListParams)
        return await asyncio.to_thread(self._list, params)

    def _list(self, params: ThreadListParams) -> dict[str, Any]:
        kinds = set(params.source_kinds or _INTERACTIVE)
        providers = set(params.model_providers or ())
        cwds = [params.cwd] if isinstance(params.cwd, str) else list(params.cwd or ())
        limit = params.limit or _DEFAULT_LIMIT

        def wanted(row: SessionRow) -> bool:
            return (_source_kind(row.source) in kinds
                    and (not providers or row.model_provider in providers)
                    and (not cwds or row.cwd in cwds)
                    and (not params.search_term or params.search_term in row.preview))

        found: list[SessionRow] = []
        cursor = params.cursor
        more = False
        with SessionIndex.open(self.context.home) as index:
            while True:
                try:
                    page = list_sessions(index, archived=bool(params.archived), limit=limit,
                                         cursor=cursor,
                                         cwd=Path(cwds[0]) if len(cwds) == 1 else None)
                except CursorError as exc:
                    raise invalid_request(f"invalid cursor: {exc}") from None
                matching = [row for row in page.rows if wanted(row)]
                take = limit - len(found)
                found.extend(matching[:take])
                if len(found) == limit:
                    # A later page may hold only rows this listing filters out; then the
                    # next page is empty, as with Codex's cursor.
                    more = len(matching) > take or page.next_cursor is not None
                    break
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
        next_cursor = encode_cursor(found[-1]) if more and found else None
        return {"data": [self.wire(row, with_turns=False) for row in found],
                "nextCursor": next_cursor, "backwardsCursor": None}

    async def read(self, conn: Connection, raw: Any) -> dict[str, Any]:
        params = decode(raw, ThreadReadParams)
        thread_id = thread_id_param(params.thread_id)
        row = await asyncio.to_thread(self.find, thread_id)
        if row is None:
            raise invalid_request(f"thread not loaded: {thread_id}")
        thread = await asyncio.to_thread(self.wire, row, with_turns=params.include_turns)
        return {"thread": thread, "readState": {"firstUnread": None, "revision": thread_id}}

    async def archive(self, conn: Connection, raw: Any) -> dict[str, Any]:
        thread_id = thread_id_param(decode(raw, ThreadIdParams).thread_id)
        await self._move("archive", thread_id)
        conn.notify("thread/archived", {"threadId": thread_id})
        return {}

    async def unarchive(self, conn: Connection, raw: Any) -> dict[str, Any]:
        thread_id = thread_id_param(decode(raw, ThreadIdParams).thread_id)
        await self._move("unarchive", thread_id)
        row = await asyncio.to_thread(self.find, thread_id)
        if row is None:
            raise invalid_request(f"thread not found: {thread_id}")
        conn.notify("thread/unarchived", {"threadId": thread_id})
        return {"thread": self.wire(row, with_turns=False)}

    async def _move(self, action: str, thread_id: str) -> None:
        from llmx.cli.sessions_files import SessionFileError, move_session

        if thread_id in self.context.loaded:
            raise invalid_request(f"thread {thread_id} already has an active writer")
        try:
            await asyncio.to_thread(move_session, action, thread_id)
        except SessionFileError as exc:
            raise invalid_request(str(exc)) from None

    async def set_name(self, conn: Connection, raw: Any) -> dict[str, Any]:
        from llmx.projections.thread_names import set_thread_name

        params = decode(raw, ThreadSetNameParams)
        thread_id = thread_id_param(params.thread_id)
        name = params.name.strip()
        if not name:
            raise invalid_request("thread name must not be empty")
        if thread_id not in self.context.loaded and await asyncio.to_thread(
            self.find, thread_id
        ) is None:
            raise invalid_request(f"thread not found: {thread_id}")
        await asyncio.to_thread(set_thread_name, self.context.home, thread_id, name)
        conn.notify("thread/name/updated", {"threadId": thread_id, "threadName": name})
        return {}


def inherited_lines(path: Path) -> Iterator[RolloutLine]:
    """The parents' lines a fork or revert file continues (none for a file of its own);
    a parent that cannot be found leaves the file's own turns, still readable."""
    try:
        parents = resolve_lineage(path)[:-1]
    except LineageError:
        return
    for _span, _number, raw in lines_forward(parents):
        if raw.is_blank or not raw.terminated:
            continue
        try:
            yield decode_line(raw.data)
        except LineError:
            continue
