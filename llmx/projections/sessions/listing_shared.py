"""Listing, searching and resolving sessions over the shared index (PostgreSQL).

The rules, rows and cursors are those of :mod:`llmx.projections.sessions.listing` over the
sqlite index: newest first by ``updated_at`` then id, only threads with a preview,
``--cwd`` against the latest cwd, cursors ``<RFC3339 updated_at>|<id>``. What differs is
where the rows come from: the shared index is only as current as each machine's last
``llmx sessions sync``, and its rows are not checked against files (they may be on
another machine). Search uses PostgreSQL's text search (every word of the query, as
words, in one user message).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from llmx.projections.sessions.index_pg import SharedIndex, redact_url
from llmx.projections.sessions.listing import (
    FULL_ID,
    ID_PREFIX,
    NEWEST_FIRST,
    SessionPage,
    SessionRow,
    UnknownSession,
    ambiguous_prefix,
    cursor_clause,
    encode_cursor,
    row_from_record,
)


def _rows(records: list[dict[str, Any]]) -> list[SessionRow]:
    return [row_from_record(record, {record["id"]: record["name"]} if record["name"] else {})
            for record in records]


def list_shared(
    shared: SharedIndex,
    *,
    cwd: Path | None = None,
    archived: bool = False,
    limit: int = 25,
    cursor: str | None = None,
    machine: str | None = None,
) -> SessionPage:
    clauses = ["preview <> ''", "archived = %s"]
    params: list[Any] = [int(archived)]
    if cwd is not None:
        clauses.append("latest_cwd = %s")
        params.append(os.path.normpath(os.path.abspath(cwd)))
    if machine is not None:
        clauses.append("machine = %s")
        params.append(machine)
    if cursor is not None:
        after, anchor = cursor_clause(cursor, "%s")
        clauses.append(after)
        params.extend(anchor)
    records = shared.query(
        f"SELECT * FROM llmx_threads WHERE {' AND '.join(clauses)}{NEWEST_FIRST} LIMIT %s",
        (*params, limit + 1),
    )
    rows = _rows(records[:limit])
    more = len(records) > limit
    return SessionPage(rows, encode_cursor(rows[-1]) if more and rows else None)


def search_shared(shared: SharedIndex, text: str, *, limit: int = 25) -> list[SessionRow]:
    """Sessions with a user message holding every word of ``text``, newest first."""
    if not text.split():
        return []
    records = shared.query(
        "SELECT * FROM llmx_threads WHERE preview <> '' AND id IN "
        "(SELECT thread_id FROM llmx_messages "
        " WHERE body_tsv @@ plainto_tsquery('simple', %s))" + NEWEST_FIRST + " LIMIT %s",
        (text, limit),
    )
    return _rows(records)


def get_shared(shared: SharedIndex, thread_id: str) -> tuple[SessionRow, dict[str, Any]] | None:
    """The row of ``thread_id`` and where it came from (``machine``, ``user``)."""
    records = shared.query("SELECT * FROM llmx_threads WHERE id = %s", (thread_id,))
    if not records:
        return None
    record = records[0]
    return _rows([record])[0], {"machine": record["machine"], "user": record["os_user"]}


def resolve_shared(shared: SharedIndex, ref: str) -> str:
    """A full id, a thread name, or a unique id prefix, in that order of precedence."""
    wanted = ref.strip()
    if not wanted:
        raise UnknownSession("empty session reference — pass a session id, prefix or name")
    lowered = wanted.lower()
    where = f"the shared index {shared_label(shared)}"
    if FULL_ID.match(lowered):
        if shared.query("SELECT id FROM llmx_threads WHERE id = %s", (lowered,)):
            return lowered
        raise UnknownSession(
            f"no session {wanted} in {where} — see `llmx sessions list` (and sync the "
            "machine it ran on)"
        )
    named = shared.query(
        "SELECT id FROM llmx_threads WHERE name = %s" + NEWEST_FIRST + " LIMIT 1", (wanted,)
    )
    if named:
        return str(named[0]["id"])
    if ID_PREFIX.match(lowered):
        matches = [
            str(r["id"]) for r in shared.query(
                "SELECT id FROM llmx_threads WHERE starts_with(id, %s) ORDER BY id LIMIT 6",
                (lowered,),
            )
        ]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ambiguous_prefix(wanted, matches)
    raise UnknownSession(
        f"no session with id, id prefix or name {wanted!r} in {where} — "
        "see `llmx sessions list`"
    )


def shared_label(shared: SharedIndex) -> str:
    return redact_url(shared.url)
