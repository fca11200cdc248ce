"""Tables of the sqlite session index (``$LLMX_HOME/state.sqlite``).

The index is derived: deleting the file loses nothing, the next command rebuilds it from
the rollouts. ``threads`` carries the columns of Codex's ``threads`` table that apply to
llmx; ``rollout_files`` records, per file, the fold state and the position (byte offset,
size, mtime, inode) it was built to, which is how the index catches up and detects drift,
and how far its user messages are in the full-text table (``fts_to``; version 3).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

# Bumped when a table changes shape; an index of another version is rebuilt from scratch.
SCHEMA_VERSION = 3

_THREAD_COLUMNS: dict[str, type] = {
    "id": str,
    "rollout_path": str,
    "created_at": int,
    "created_at_ms": int,
    "updated_at": int,
    "updated_at_ms": int,
    "source": str,
    "originator": str,
    "model_provider": str,
    "cwd": str,
    "latest_cwd": str,
    "title": str,
    "sandbox_policy": str,
    "approval_mode": str,
    "tokens_used": int,
    "has_user_event": int,
    "archived": int,
    "archived_at": int,
    "git_sha": str,
    "git_branch": str,
    "git_origin_url": str,
    "cli_version": str,
    "first_user_message": str,
    "preview": str,
    "agent_nickname": str,
    "agent_role": str,
    "model": str,
    "reasoning_effort": str,
    "history_mode": str,
    "forked_from_id": str,
    # 1 while only the file's name and mtime are known (its lines are not folded yet).
    "pending": int,
}

_INT_FILE_COLUMNS = {
    "built_to", "size", "mtime_ns", "has_meta", "created_at_ms", "has_user_event",
    "tokens_used", "unreadable_lines", "inode", "fts_to",
}


def thread_columns() -> tuple[str, ...]:
    return tuple(_THREAD_COLUMNS)


def connect(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, timeout=10.0, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def _sql_type(kind: type) -> str:
    return "INTEGER" if kind is int else "TEXT"


def create_schema(conn: sqlite3.Connection) -> None:
    """Create every table on an empty database (inside the caller's transaction)."""
    # Plain DDL rather than sqlite-utils: importing it cost a first run ~65 ms.
    from llmx.projections.session_summary import STORED_COLUMNS

    threads = ", ".join(
        f"{name} {_sql_type(kind)}" + (" NOT NULL" if name in ("id", "rollout_path") else "")
        for name, kind in _THREAD_COLUMNS.items()
    )
    conn.execute(f"CREATE TABLE threads ({threads}, PRIMARY KEY (id))")
    conn.execute("CREATE INDEX threads_by_update ON threads (updated_at_ms DESC, id DESC)")
    # The listing's order within ``archived = ?``: the first page is read in index order
    # and stops at the limit, instead of sorting every thread (version 2).
    conn.execute(
        "CREATE INDEX threads_listing ON threads (archived, updated_at_ms DESC, id DESC)"
    )
    conn.execute("CREATE INDEX threads_by_creation ON threads (created_at_ms DESC, id DESC)")
    conn.execute("CREATE INDEX threads_by_cwd ON threads (archived, latest_cwd)")
    files = ", ".join(
        f"{column} {'INTEGER' if column in _INT_FILE_COLUMNS else 'TEXT'}"
        for column in STORED_COLUMNS
    )
    conn.execute(f"CREATE TABLE rollout_files (archived INTEGER, {files}, PRIMARY KEY (path))")
    conn.execute("CREATE INDEX rollout_files_by_thread ON rollout_files (thread_id)")
    conn.execute("CREATE TABLE scanned_dirs (path TEXT PRIMARY KEY, mtime_ns INTEGER)")
    conn.execute("CREATE TABLE index_state (key TEXT PRIMARY KEY, value TEXT)")
    # One row per user message of a file; the thread id makes hits listable.
    conn.execute(
        "CREATE VIRTUAL TABLE session_messages USING fts5("
        "body, thread_id UNINDEXED, rollout_path UNINDEXED)"
    )
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def reset(conn: sqlite3.Connection) -> None:
    """Drop everything (an index of another schema version, or ``sessions reindex``)."""
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "AND name NOT LIKE 'session_messages_%'"
        )
    ]
    for table in tables:
        conn.execute(f'DROP TABLE IF EXISTS "{table}"')
    conn.execute("PRAGMA user_version = 0")


def recreate(conn: sqlite3.Connection, *, unless_current: bool) -> None:
    """Drop and create every table in one transaction. With ``unless_current``, leave an
    index of the current version alone: another process may have just created it."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not (unless_current and schema_version(conn) == SCHEMA_VERSION):
            reset(conn)
            create_schema(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
