"""Listing, searching and resolving sessions over the session index (Codex's ``list.rs`` rules).

- Newest first by ``updated_at`` (file mtime, ms), ties by id, descending.
- A thread is listed only if it has a preview (its first user message, with everything up
  to ``## My request for Codex:`` stripped, or ``[Image]``).
- ``cwd`` compares against the latest ``turn_context`` cwd, falling back to the meta cwd.
- Cursors are ``<RFC3339 updated_at>|<id>`` ("strictly after this row"); a bare RFC3339
  timestamp (Codex's newest form) is accepted and skips every row at or after it.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from llmx.projections.sessions.index import Progress, SessionIndex
from llmx.projections.thread_names import ids_named, thread_names

FULL_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ID_PREFIX = re.compile(r"^[0-9a-f-]{4,36}$")
# The listing's order, on either index (sqlite's ``threads``, PostgreSQL's ``llmx_threads``).
NEWEST_FIRST = " ORDER BY updated_at_ms DESC, id DESC"
_LISTED = "(pending = 1 OR preview <> '')"


class CursorError(ValueError):
    pass


class SessionLookupError(LookupError):
    """A session reference (id, id prefix or thread name) that names no single session."""


class UnknownSession(SessionLookupError):
    pass


class AmbiguousSession(SessionLookupError):
    pass


# Named tuples, not dataclasses: ``dataclasses`` (with ``inspect``) would be the largest
# single import of ``llmx sessions list``, whose start-up is meant to be tens of ms.
class SessionRow(NamedTuple):
    id: str
    rollout_path: str
    created_at_ms: int
    updated_at_ms: int
    preview: str
    cwd: str
    source: str
    model: str | None
    model_provider: str
    tokens_used: int
    archived: bool
    forked_from_id: str | None
    git_branch: str | None
    cli_version: str
    name: str | None = None

    @property
    def updated_at(self) -> str:
        return _rfc3339(self.updated_at_ms)

    @property
    def created_at(self) -> str:
        return _rfc3339(self.created_at_ms)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "thread_name": self.name,
            "preview": self.preview,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "cwd": self.cwd,
            "source": self.source,
            "model": self.model,
            "model_provider": self.model_provider,
            "tokens_used": self.tokens_used,
            "archived": self.archived,
            "forked_from_id": self.forked_from_id,
            "git_branch": self.git_branch,
            "cli_version": self.cli_version,
            "rollout_path": self.rollout_path,
        }


class SessionPage(NamedTuple):
    rows: list[SessionRow]
    next_cursor: str | None


def _rfc3339(millis: int) -> str:
    moment = datetime.fromtimestamp(millis / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_cursor(row: SessionRow) -> str:
    return f"{row.updated_at}|{row.id}"


def decode_cursor(text: str) -> tuple[int, str | None]:
    """``(updated_at_ms, id or None)``; a clear error for anything else."""
    stamp, _, thread_id = text.partition("|")
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}", stamp):
            moment = datetime.strptime(stamp, "%Y-%m-%dT%H-%M-%S").replace(tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        raise CursorError(
            f"bad cursor {text!r} — pass the next_cursor printed by the previous page"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000), (thread_id.lower() or None)


def cursor_clause(cursor: str, placeholder: str) -> tuple[str, list[Any]]:
    """The condition (and its parameters) for the rows after ``cursor``, with the
    placeholder of the index's driver (sqlite's ``?``, psycopg's ``%s``)."""
    anchor_ms, anchor_id = decode_cursor(cursor)
    if anchor_id is None:
        return f"updated_at_ms < {placeholder}", [anchor_ms]
    at = placeholder
    return (f"(updated_at_ms < {at} OR (updated_at_ms = {at} AND id < {at}))",
            [anchor_ms, anchor_ms, anchor_id])


def ambiguous_prefix(wanted: str, matches: list[str]) -> AmbiguousSession:
    """The error for an id prefix that ``matches`` several sessions (up to six looked up)."""
    shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
    return AmbiguousSession(
        f"session prefix {wanted!r} matches several sessions ({shown}) — type more of the id"
    )


def row_from_record(record: Any, names: dict[str, str]) -> SessionRow:
    """A session row from an index record (either index's columns), named by ``names``."""
    return SessionRow(
        id=record["id"],
        rollout_path=record["rollout_path"],
        created_at_ms=record["created_at_ms"],
        updated_at_ms=record["updated_at_ms"],
        preview=record["preview"],
        cwd=record["latest_cwd"],
        source=record["source"],
        model=record["model"],
        model_provider=record["model_provider"],
        tokens_used=record["tokens_used"],
        archived=bool(record["archived"]),
        forked_from_id=record["forked_from_id"],
        git_branch=record["git_branch"],
        cli_version=record["cli_version"],
        name=names.get(record["id"]),
    )


def _query_verified(index: SessionIndex, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """Run ``sql``, check the files behind the rows, repeat until nothing needed repair."""
    while True:
        records = index.conn.execute(sql, params).fetchall()
        if not index.verify(record["id"] for record in records):
            return records


# Candidates checked per round of a listing: the rows still wanted at first, then doubling
# up to this, so a ``--cwd`` page among thousands of pending rows takes few rounds and
# summarises at most about twice the rows it had to look at.
_MAX_ROUND = 512
_AFTER = " AND (updated_at_ms < ? OR (updated_at_ms = ? AND id < ?))"


def _first_rows_verified(
    index: SessionIndex, where: str, params: tuple[Any, ...], wanted: int
) -> tuple[list[Any], bool]:
    """The first ``wanted`` rows matching ``where``, newest first, each checked against
    its file; and whether more candidates follow them.

    Checking summarises pending rows; one that then no longer matches (another cwd, no
    preview) is passed over. Candidates are taken newest first and only as far down as
    the page reaches, so a listing never waits for the whole index. A pending row after
    the page counts as "more", unread: the next page may then be empty.
    """
    base = f"SELECT * FROM threads WHERE {where}"
    found: dict[str, Any] = {}
    after: tuple[int, int, str] | None = None
    batch = wanted
    while len(found) < wanted:
        extra = _AFTER if after is not None else ""
        records = index.conn.execute(
            base + extra + NEWEST_FIRST + " LIMIT ?", (*params, *(after or ()), batch)
        ).fetchall()
        if not records:
            break
        changed = index.verify_changed(record["id"] for record in records)
        for record in records:
            if record["id"] in changed:
                record = index.conn.execute(
                    base + " AND id = ?", (*params, record["id"])
                ).fetchone()
                if record is None:
                    continue
            found.setdefault(record["id"], record)
        last = records[-1]
        after = (last["updated_at_ms"], last["updated_at_ms"], last["id"])
        if len(records) < batch:
            break
        batch = min(batch * 2, max(_MAX_ROUND, wanted - len(found)))
    rows = sorted(found.values(), key=lambda r: (r["updated_at_ms"], r["id"]), reverse=True)
    more = len(rows) > wanted
    if not more and len(rows) == wanted and after is not None:
        more = index.conn.execute(
            base + _AFTER + " LIMIT 1", (*params, *after)
        ).fetchone() is not None
    return rows[:wanted], more


def list_sessions(
    index: SessionIndex,
    *,
    cwd: Path | None = None,
    archived: bool = False,
    limit: int = 25,
    cursor: str | None = None,
) -> SessionPage:
    index.sync()
    clauses = [_LISTED, "archived = ?"]
    params: list[Any] = [int(archived)]
    if cwd is not None:
        # A pending row may be in ``cwd``: it stays a candidate until it is summarised.
        clauses.append("(pending = 1 OR latest_cwd = ?)")
        params.append(os.path.normpath(os.path.abspath(cwd)))
    if cursor is not None:
        after, anchor = cursor_clause(cursor, "?")
        clauses.append(after)
        params.extend(anchor)
    records, more = _first_rows_verified(index, " AND ".join(clauses), tuple(params), limit)
    names = thread_names(index.home)
    rows = [row_from_record(record, names) for record in records]
    return SessionPage(rows, encode_cursor(rows[-1]) if more and rows else None)


def _fts_query(text: str, *, prefix: bool = False) -> str:
    # Every word must match, taken literally (no FTS5 operators from user input); with
    # ``prefix`` the last word may be the start of a word (a search typed as it goes).
    words = ['"' + w.replace('"', '""') + '"' for w in text.split() if w]
    if prefix and words:
        words[-1] += "*"
    return " ".join(words)


def search_sessions(
    index: SessionIndex, text: str, *, limit: int = 25, progress: Progress | None = None,
    prefix: bool = False,
) -> list[SessionRow]:
    """Sessions with a user message containing every word of ``text``, newest first (with
    ``prefix``, the last word as the start of a word)."""
    query = _fts_query(text, prefix=prefix)
    if not query:
        return []
    index.sync()
    index.complete_search(progress)
    sql = (
        "SELECT * FROM threads WHERE preview <> '' AND id IN "
        "(SELECT thread_id FROM session_messages WHERE session_messages MATCH ?)"
        + NEWEST_FIRST + " LIMIT ?"
    )
    records = _query_verified(index, sql, (query, limit))
    names = thread_names(index.home)
    return [row_from_record(record, names) for record in records]


def get_session(index: SessionIndex, thread_id: str) -> SessionRow | None:
    records = _query_verified(index, "SELECT * FROM threads WHERE id = ?", (thread_id,))
    return row_from_record(records[0], thread_names(index.home)) if records else None


def resolve_session_id(index: SessionIndex, ref: str) -> str:
    """A full id, a thread name, or a unique id prefix, in that order of precedence."""
    wanted = ref.strip()
    if not wanted:
        raise UnknownSession("empty session reference — pass a session id, prefix or name")
    index.sync()
    lowered = wanted.lower()
    if FULL_ID.match(lowered):
        if get_session(index, lowered) is not None:
            return lowered
        raise UnknownSession(
            f"no session {wanted} under {index.home} — see `llmx sessions list --all`"
        )
    named = [tid for tid in ids_named(index.home, wanted) if get_session(index, tid)]
    if named:
        return named[0]
    if ID_PREFIX.match(lowered):
        matches = [
            r[0]
            for r in index.conn.execute(
                "SELECT id FROM threads WHERE id >= ? AND id < ? ORDER BY id LIMIT 6",
                (lowered, lowered + "\uffff"),
            )
        ]
        if len(matches) == 1:
            return str(matches[0])
        if len(matches) > 1:
            raise ambiguous_prefix(wanted, [str(match) for match in matches])
    if "/" in wanted or wanted.endswith(".jsonl"):
        # Read as a path by whoever passed it: say so rather than "no session with id".
        raise UnknownSession(
            f"no rollout file or session named {wanted!r} — check the path, or see "
            "`llmx sessions list --all`"
        )
    raise UnknownSession(
        f"no session with id, id prefix or name {wanted!r} — see `llmx sessions list --all`"
    )


# The shortest id prefix a listing shows (a UUIDv7 starts with its timestamp).
SHORT_ID_MIN = 8


def short_id_length(shown: Iterable[str], known: Iterable[str]) -> int:
    """How many leading characters tell each of ``shown`` apart from every other id in
    ``shown`` and ``known`` (at least :data:`SHORT_ID_MIN`): a prefix that long is one
    :func:`resolve_session_id` accepts. The same length for every row keeps columns."""
    wanted = set(shown)
    ids = sorted(wanted | set(known))
    length = SHORT_ID_MIN
    for previous, current in itertools.pairwise(ids):
        if previous not in wanted and current not in wanted:
            continue
        common = next(
            (i for i, (a, b) in enumerate(zip(previous, current, strict=False)) if a != b),
            min(len(previous), len(current)),
        )
        length = max(length, common + 1)
    return length


def known_session_ids(home: Path) -> list[str]:
    """Every thread id the session index knows (after catching up with the files)."""
    with SessionIndex.open(home) as index:
        index.sync()
        return [str(row[0]) for row in index.conn.execute("SELECT id FROM threads")]


def open_index(home: Path, *, read_only: bool = False) -> SessionIndex:
    """The session index of ``home``; ``read_only`` works on a copy in memory, so that
    nothing under ``home`` is written (``--ephemeral``)."""
    return SessionIndex.open_snapshot(home) if read_only else SessionIndex.open(home)


def resolve_session(home: Path, ref: str, *, read_only: bool = False) -> Path:
    """The rollout file of session ``ref`` (full id, thread name, or unique id prefix).

    Raises :class:`SessionLookupError` (``UnknownSession`` / ``AmbiguousSession``) with a
    one-line message; it never falls back to starting something new.
    """
    with open_index(home, read_only=read_only) as index:
        thread_id = resolve_session_id(index, ref)
        row = get_session(index, thread_id)
        if row is None:
            raise UnknownSession(f"session {thread_id} disappeared while looking it up — try again")
        return Path(row.rollout_path)
