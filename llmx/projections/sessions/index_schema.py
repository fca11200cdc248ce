"""Tables of the sqlite session index (``$LLMX_HOME/state.sqlite``).

The index is derived: deleting the file loses nothing, the next command rebuilds it from
the rollouts. ``threads`` carries the columns of Codex's ``threads`` table that apply to
llmx; ``rollout_files`` records, per file, the fold state and the position (byte offset,
size, mtime, inode) it was built to, which is how the index catches up and detects drift,
and how far its user messages are in the full-text table (``fts_to``; version 3).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import stat
from pathlib import Path

from llmx.events.home import FILE_MODE

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


def thread_column_is_int(name: str) -> bool:
    return _THREAD_COLUMNS[name] is int


def file_column_is_int(name: str) -> bool:
    return name in _INT_FILE_COLUMNS


# How long a command waits for another process's write transaction before giving up.
BUSY_TIMEOUT_S = 10.0
# The write-ahead log and shared-memory files beside the database, which hold the same
# prompt text: SQLite creates them with the mode of the database file.
SIDE_FILE_SUFFIXES = ("-wal", "-shm", "-journal")


def connect(db_path: Path) -> sqlite3.Connection:
    """A connection to the index at ``db_path``, created 0600 (and its side files with it).

    Raises ``OSError`` when the file cannot be created or opened (a folder in its place,
    no permission) and ``sqlite3.Error`` for what SQLite refuses (see :func:`failure`).
    """
    _create_private(db_path)
    conn = sqlite3.connect(db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def _create_private(db_path: Path) -> None:
    # SQLite would create the file with the umask's mode (0644), and its -wal and -shm
    # files copy that mode: creating it 0600 first keeps all three private.
    fd = os.open(db_path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(db_path))
        # Another user's index keeps its mode (only its owner may change it).
        if stat.S_IMODE(os.fstat(fd).st_mode) != FILE_MODE:
            with contextlib.suppress(PermissionError):
                os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    for suffix in SIDE_FILE_SUFFIXES:
        side = Path(f"{db_path}{suffix}")
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if stat.S_IMODE(side.stat().st_mode) != FILE_MODE:
                side.chmod(FILE_MODE)


def is_corrupt(exc: sqlite3.Error) -> bool:
    """Whether SQLite says the file is damaged or not a database: the only failures for
    which the index is thrown away and rebuilt (never for a full disk, a read-only file
    system or a lock held by another process: the file is fine, and rebuilding it would
    fail the same way or take another process's work away)."""
    return _primary_code(exc) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def failure(exc: sqlite3.Error, db_path: Path) -> tuple[str, str]:
    """What happened to the index at ``db_path`` and what to do: ``(what, todo)``."""
    code = _primary_code(exc)
    # SQLite reports a full or read-only disk under several codes (an I/O error mapping
    # its shared memory, "unable to open" its write-ahead log): the file system says which.
    vague = code in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN)
    if code == sqlite3.SQLITE_FULL or (vague and _full(db_path)):
        return f"cannot write {db_path}: no space left on the device", (
            "free some space there and retry"
        )
    if code == sqlite3.SQLITE_READONLY or (vague and _read_only(db_path)):
        # Its folder counts too: SQLite writes its journal there. (The file's own mode
        # was put back to 0600 on opening, where the file is this user's.)
        writable = os.access(db_path, os.W_OK) and os.access(db_path.parent, os.W_OK)
        if not _read_only(db_path) and not writable:
            return f"cannot write {db_path}: permission denied", (
                "check the owner and mode of it and its folder"
            )
        return f"cannot write {db_path}: the file system is read-only", (
            "make it writable, or point LLMX_HOME at a writable folder"
        )
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return (
            f"{db_path} stayed locked by another process for {BUSY_TIMEOUT_S:g} s",
            "retry, or look for a stuck llmx process",
        )
    if code == sqlite3.SQLITE_CANTOPEN and db_path.is_dir():
        return f"{db_path} is a folder, not the session index", (
            "move it out of the way (the index is rebuilt from the rollouts)"
        )
    if code in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH):
        return f"cannot open {db_path} ({exc})", "check the owner and mode of it and its folder"
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return f"{db_path} is damaged ({exc})", (
            "delete it (the index is rebuilt from the rollouts)"
        )
    return f"the session index {db_path} failed: {exc}", "check the disk and retry"


def _primary_code(exc: sqlite3.Error) -> int:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else -1


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _full(path: Path) -> bool:
    try:
        return os.statvfs(path.parent).f_bavail == 0
    except OSError:
        return False


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def _sql_type(kind: type) -> str:
    return "INTEGER" if kind is int else "TEXT"


def create_schema(conn: sqlite3.Connection) -> None:
    """Create every table on an empty database (inside the caller's transaction)."""
    # Plain DDL rather than sqlite-utils: importing it cost a first run ~65 ms.
    from llmx.projections.sessions.summary import STORED_COLUMNS

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
