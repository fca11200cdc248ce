"""The sqlite session index: kept in step with the rollout files, never trusted over them.

How it stays true without reading every file on every command:

- New files are found through directory mtimes (a file created, renamed or removed in a
  day folder changes that folder's mtime); only changed folders are listed again.
- A new file is first recorded *pending* (name and mtime only, which is all ordering
  needs) and summarised when a command needs its contents: the rows a listing shows (a
  ``--cwd`` listing summarises candidates newest first until its page is full). This is
  how the first listing of a large home with no index answers in well under a second.
- A summary reads a large file's head and tail only (:mod:`~llmx.projections.sessions.scan`);
  the full-text part of its middle is completed by a search or ``reindex``.
- Every row a command shows is checked against its file (size and mtime) first; a file
  that grew is caught up from the byte offset it was folded to, one that shrank or was
  replaced (another inode, or no line boundary where the fold stopped) is summarised
  again, one that is gone is dropped.
- A file appended to by another program in a folder whose entries did not change is
  caught up at the latest by the next full scan (every ``FULL_SCAN_SECONDS``), or when it
  is shown. The runtime calls :meth:`SessionIndex.record_flush` after each flushed batch,
  so llmx's own sessions are always current.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmx.events.home import archived_sessions_dir, ensure_private_dir, session_index_db_path
from llmx.events.home import sessions_dir as sessions_root
from llmx.projections.sessions import index_schema as schema

if TYPE_CHECKING:
    from llmx.projections.sessions.summary import FileSummary

# ``llmx.projections.sessions.summary`` (the fold, built on msgspec) is imported only where a
# file is read or recorded: a listing whose folders and rows are unchanged does neither,
# and skipping msgspec is a good part of how it starts in tens of milliseconds.

FULL_SCAN_SECONDS = 30.0
_NEVER_FOLDED = -1  # ``size`` of a pending file row
# Per transaction of a search's catch-up: at most this many files, or bytes of rollouts.
_BATCH_FILES = 500
_BATCH_BYTES = 64 << 20

Progress = Callable[[int, int], None]


def stamp_millis(stamp: str) -> int:
    # Codex orders by the filename stamp parsed as if UTC; so do we, for pending rows.
    # By hand: ``strptime`` was a fifth of a cold listing of 10,000 files.
    try:
        parsed = datetime(
            int(stamp[0:4]), int(stamp[5:7]), int(stamp[8:10]),
            int(stamp[11:13]), int(stamp[14:16]), int(stamp[17:19]), tzinfo=UTC,
        )
    except ValueError:
        return 0
    return int(parsed.timestamp()) * 1000


def thread_row(files: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``threads`` row of a thread from its file rows, ordered by segment id."""
    thread_id = files[0]["thread_id"]
    # The base file holds the thread's identity; the newest revert segment is where the
    # thread continues (Codex points ``rollout_path`` at it).
    base, active = files[0], files[-1]
    identity = base if base["has_meta"] or not active["has_meta"] else active

    def latest(column: str) -> Any:
        return active[column] or base[column]

    updated_ms = max(row["mtime_ns"] for row in files) // 1_000_000
    created_ms = identity["created_at_ms"]
    first = identity["first_user_message"] or active["first_user_message"]
    row: dict[str, Any] = {
        "id": thread_id,
        "rollout_path": active["path"],
        "created_at": created_ms // 1000,
        "created_at_ms": created_ms,
        "updated_at": updated_ms // 1000,
        "updated_at_ms": updated_ms,
        "source": identity["source"],
        "originator": identity["originator"],
        "model_provider": identity["model_provider"],
        "cwd": identity["cwd"],
        "latest_cwd": os.path.normpath(latest("latest_cwd") or identity["cwd"] or "/"),
        "title": first,
        "sandbox_policy": latest("sandbox_policy"),
        "approval_mode": latest("approval_mode"),
        "tokens_used": active["tokens_used"],
        "has_user_event": int(any(r["has_user_event"] for r in files)),
        "archived": active["archived"],
        "archived_at": (active["mtime_ns"] // 1_000_000_000) if active["archived"] else None,
        "git_sha": identity["git_sha"],
        "git_branch": identity["git_branch"],
        "git_origin_url": identity["git_origin_url"],
        "cli_version": identity["cli_version"],
        "first_user_message": first,
        "preview": first,
        "agent_nickname": identity["agent_nickname"],
        "agent_role": identity["agent_role"],
        "model": latest("model"),
        "reasoning_effort": latest("reasoning_effort"),
        "history_mode": identity["history_mode"],
        "forked_from_id": identity["forked_from_id"],
        "pending": int(any(r["size"] == _NEVER_FOLDED for r in files)),
    }
    return row


def _memory_database() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


class SessionIndex:
    """``$LLMX_HOME/state.sqlite``: one row per thread, rebuilt from the rollouts at will."""

    def __init__(self, home: Path, conn: sqlite3.Connection) -> None:
        self.home = home
        self.conn = conn
        self.sessions_dir = sessions_root(home)
        self.archived_dir = archived_sessions_dir(home)

    @classmethod
    def open(cls, home: Path) -> SessionIndex:
        """Open (creating or recreating as needed) the index of ``home``."""
        ensure_private_dir(home)
        db_path = session_index_db_path(home)
        try:
            conn = cls._connect_current(db_path)
        except sqlite3.DatabaseError as exc:
            if not schema.is_corrupt(exc):
                raise  # a full disk, a read-only file, a lock: the file is not to blame
            # A damaged index is only a cache: start it over.
            for suffix in ("", *schema.SIDE_FILE_SUFFIXES):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(f"{db_path}{suffix}")
            conn = cls._connect_current(db_path)
        return cls(home, conn)

    @staticmethod
    def _connect_current(db_path: Path) -> sqlite3.Connection:
        conn = schema.connect(db_path)
        try:
            if schema.schema_version(conn) != schema.SCHEMA_VERSION:
                schema.recreate(conn, unless_current=True)
        except BaseException:
            conn.close()
            raise
        return conn

    @classmethod
    def open_snapshot(cls, home: Path) -> SessionIndex:
        """An index of ``home`` held in memory: a copy of the one on disk (read-only), or a
        new one. Catching up, looking up and listing then work as usual and write nothing
        at all (``exec --ephemeral resume``); a missing or unreadable index only costs a
        full scan of the files."""
        memory = _memory_database()
        db_path = session_index_db_path(home)
        if db_path.is_file():
            from urllib.parse import quote

            # ``immutable``: a read-only connection to a WAL database would still create
            # its -wal and -shm files. The copy may lag a writer's uncheckpointed WAL; a
            # catch-up from the files follows anyway.
            uri = f"file:{quote(str(db_path))}?immutable=1"
            with contextlib.suppress(sqlite3.Error):
                source = sqlite3.connect(uri, uri=True)
                try:
                    source.backup(memory)
                finally:
                    source.close()
        try:
            current = schema.schema_version(memory) == schema.SCHEMA_VERSION
            if current:
                memory.execute("SELECT count(*) FROM threads").fetchone()
        except sqlite3.DatabaseError:
            current = False
        if not current:
            memory.close()
            memory = _memory_database()
            schema.recreate(memory, unless_current=False)
        return cls(home, memory)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> SessionIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- discovery -----------------------------------------------------------------------

    def _state(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM index_state WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_state(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO index_state(key, value) VALUES (?, ?)", (key, value)
        )

    def sync(self, *, full: bool | None = None) -> None:
        """Find new, changed and removed files (see the module docstring for how)."""
        if full is None:
            last = self._state("last_full_scan")
            full = last is None or time.time() - float(last) > FULL_SCAN_SECONDS
        touched: set[str] = set()
        with self._transaction():
            self._scan(self.sessions_dir, archived=False, full=full, touched=touched)
            self._scan(self.archived_dir, archived=True, full=full, touched=touched)
            for thread_id in touched:
                self._materialize(thread_id)
            if full:
                self._set_state("last_full_scan", repr(time.time()))

    def _scan(self, directory: Path, *, archived: bool, full: bool, touched: set[str]) -> None:
        key = str(directory)
        try:
            stat = os.stat(directory)
        except FileNotFoundError:
            self._forget_dir(key, touched)
            return
        known = self.conn.execute(
            "SELECT mtime_ns FROM scanned_dirs WHERE path=?", (key,)
        ).fetchone()
        unchanged = not full and known is not None and known[0] == stat.st_mtime_ns
        if unchanged:
            # Creating, removing or renaming an entry changes a folder's mtime, so an
            # unchanged folder has the sub-folders recorded when it was last listed: no
            # need to list its (thousands of) files again.
            subdirs = [] if archived else [Path(path) for path in self._known_subdirs(key)]
        else:
            from llmx.projections.sessions.summary import parse_rollout_name

            subdirs = []
            files: dict[str, os.stat_result] = {}
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        if not archived:  # archived_sessions is flat, as in Codex
                            subdirs.append(Path(entry.path))
                    elif parse_rollout_name(entry.name) is not None:
                        with contextlib.suppress(FileNotFoundError):
                            files[entry.path] = entry.stat()
            self._reconcile_dir(key, files, archived, touched)
            self.conn.execute(
                "INSERT OR REPLACE INTO scanned_dirs(path, mtime_ns) VALUES (?, ?)",
                (key, stat.st_mtime_ns),
            )
        for sub in subdirs:
            self._scan(sub, archived=archived, full=full, touched=touched)

    def _known_subdirs(self, key: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT path FROM scanned_dirs WHERE path > ? AND path < ?", (key + "/", key + "0")
        ).fetchall()
        return [row[0] for row in rows if os.path.dirname(row[0]) == key]

    def _rows_in_dir(self, key: str) -> list[sqlite3.Row]:
        rows = self.conn.execute(
            "SELECT path, size, mtime_ns, thread_id, archived FROM rollout_files "
            "WHERE path > ? AND path < ?",
            (key + "/", key + "0"),
        ).fetchall()
        return [row for row in rows if os.path.dirname(row["path"]) == key]

    def _forget_dir(self, key: str, touched: set[str]) -> None:
        for row in self.conn.execute(
            "SELECT path, thread_id FROM rollout_files WHERE path > ? AND path < ?",
            (key + "/", key + "0"),
        ).fetchall():
            self._drop_file(row["path"], row["thread_id"], touched)
        self.conn.execute(
            "DELETE FROM scanned_dirs WHERE path = ? OR (path > ? AND path < ?)",
            (key, key + "/", key + "0"),
        )

    def _reconcile_dir(
        self, key: str, files: dict[str, os.stat_result], archived: bool, touched: set[str]
    ) -> None:
        known = {row["path"]: row for row in self._rows_in_dir(key)}
        for path, row in known.items():
            if path not in files:
                self._drop_file(path, row["thread_id"], touched)
        new: list[tuple[str, os.stat_result]] = []
        for path, stat in files.items():
            previous = known.get(path)
            if previous is None:
                new.append((path, stat))
            elif previous["size"] != _NEVER_FOLDED and (
                previous["size"] != stat.st_size or previous["mtime_ns"] != stat.st_mtime_ns
            ):
                self._fold(path, touched)
        if new:
            self._add_pending(new, archived, touched)

    def _add_pending(
        self, new: list[tuple[str, os.stat_result]], archived: bool, touched: set[str]
    ) -> None:
        """Record new files as pending rows, in bulk: a first listing meets thousands."""
        import json

        from llmx.projections.sessions.summary import FileSummary, parse_rollout_name

        template = FileSummary("", "", "", size=_NEVER_FOLDED).stored()
        template["archived"] = int(archived)
        rows: list[dict[str, Any]] = []
        for path, stat in new:
            parsed = parse_rollout_name(os.path.basename(path))
            if parsed is None:
                continue
            stamp, thread_id, segment_id = parsed
            row = dict(template, path=path, thread_id=thread_id, segment_id=segment_id)
            row["mtime_ns"] = stat.st_mtime_ns
            row["created_at_ms"] = stamp_millis(stamp)
            rows.append(row)
        if not rows:
            return
        columns = list(template)
        self.conn.executemany(
            f"INSERT OR REPLACE INTO rollout_files ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})",
            [tuple(row[column] for column in columns) for row in rows],
        )
        # A thread whose only file is the new one gets its row straight from it; one with
        # other files (revert segments) is put together from all of them.
        counts = dict(
            self.conn.execute(
                "SELECT thread_id, count(*) FROM rollout_files WHERE thread_id IN "
                "(SELECT value FROM json_each(?)) GROUP BY thread_id",
                (json.dumps([row["thread_id"] for row in rows]),),
            ).fetchall()
        )
        threads = []
        for row in rows:
            if counts.get(row["thread_id"]) == 1:
                threads.append(thread_row([row]))
            else:
                touched.add(row["thread_id"])
        if threads:
            names = list(threads[0])
            self.conn.executemany(
                f"INSERT OR REPLACE INTO threads ({', '.join(names)}) "
                f"VALUES ({', '.join('?' for _ in names)})",
                [tuple(thread[name] for name in names) for thread in threads],
            )

    def _drop_file(self, path: str, thread_id: str, touched: set[str]) -> None:
        self.conn.execute("DELETE FROM rollout_files WHERE path=?", (path,))
        self.conn.execute("DELETE FROM session_messages WHERE rollout_path=?", (path,))
        touched.add(thread_id)

    # -- folding -------------------------------------------------------------------------

    def _load_file(self, path: str) -> tuple[FileSummary, bool] | None:
        from llmx.projections.sessions.summary import STORED_COLUMNS, FileSummary

        row = self.conn.execute("SELECT * FROM rollout_files WHERE path=?", (path,)).fetchone()
        if row is None:
            return None
        values = {column: row[column] for column in STORED_COLUMNS}
        values["has_meta"] = bool(values["has_meta"])
        values["has_user_event"] = bool(values["has_user_event"])
        return FileSummary(**values), bool(row["archived"])

    def _store_file(self, summary: FileSummary, archived: bool) -> None:
        row = summary.stored()
        row["archived"] = int(archived)
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.conn.execute(
            f"INSERT OR REPLACE INTO rollout_files ({columns}) VALUES ({marks})",
            tuple(row.values()),
        )

    def _fold(self, path: str, touched: set[str]) -> FileSummary | None:
        """Catch ``path`` up from where it was folded to (or from the start if it changed)."""
        from llmx.projections.sessions.scan import continues, summarise
        from llmx.projections.sessions.summary import FileSummary, parse_rollout_name

        parsed = parse_rollout_name(os.path.basename(path))
        if parsed is None:
            return None
        stamp, thread_id, segment_id = parsed
        loaded = self._load_file(path)
        archived = loaded[1] if loaded else os.path.dirname(path) == str(self.archived_dir)
        summary = loaded[0] if loaded else None
        try:
            stat = os.stat(path)
            if summary is None or summary.size == _NEVER_FOLDED or not continues(summary, stat):
                if summary is not None and summary.size != _NEVER_FOLDED:
                    # Shrunk or replaced: its messages are read again from the start.
                    self.conn.execute(
                        "DELETE FROM session_messages WHERE rollout_path=?", (path,)
                    )
                summary = FileSummary(path, thread_id, segment_id)
                summary.created_at_ms = stamp_millis(stamp)
            summarise(summary, Path(path))
        except FileNotFoundError:
            self._drop_file(path, thread_id, touched)
            return None
        self._add_messages(summary)
        self._store_file(summary, archived)
        touched.add(thread_id)
        return summary

    def _add_messages(self, summary: FileSummary) -> None:
        self.conn.executemany(
            "INSERT INTO session_messages(body, thread_id, rollout_path) VALUES (?, ?, ?)",
            [(text, summary.thread_id, summary.path) for text in summary.new_user_messages],
        )

    def _complete_messages(self, path: str, touched: set[str]) -> None:
        """Summarise ``path`` if needed, then put the user messages it lacks in the
        full-text table."""
        from llmx.projections.sessions.scan import complete_messages

        loaded = self._load_file(path)
        if loaded is None:
            return
        summary, archived = loaded
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            self._drop_file(path, summary.thread_id, touched)
            return
        if summary.size != stat.st_size or summary.mtime_ns != stat.st_mtime_ns:
            folded = self._fold(path, touched)
            if folded is None:
                return
            summary = folded
        if summary.fts_to >= summary.built_to:
            return
        try:
            complete_messages(summary, Path(path))
        except FileNotFoundError:
            self._drop_file(path, summary.thread_id, touched)
            return
        self._add_messages(summary)
        self._store_file(summary, archived)

    def _materialize(self, thread_id: str) -> None:
        files = self.conn.execute(
            "SELECT * FROM rollout_files WHERE thread_id=? ORDER BY segment_id", (thread_id,)
        ).fetchall()
        if not files:
            self.conn.execute("DELETE FROM threads WHERE id=?", (thread_id,))
            return
        row = thread_row(files)
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.conn.execute(
            f"INSERT OR REPLACE INTO threads ({columns}) VALUES ({marks})", tuple(row.values())
        )

    @contextlib.contextmanager
    def _transaction(self) -> Any:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- public maintenance --------------------------------------------------------------

    def record_flush(self, rollout_path: Path) -> None:
        """Catch the index up with one rollout file (the runtime calls this after a flush)."""
        touched: set[str] = set()
        with self._transaction():
            self._fold(str(rollout_path.absolute()), touched)
            for thread_id in touched:
                self._materialize(thread_id)

    def verify(self, thread_ids: Iterable[str]) -> bool:
        """Check the files behind these threads; repair drift. True if anything changed."""
        return bool(self.verify_changed(thread_ids))

    def verify_changed(self, thread_ids: Iterable[str]) -> set[str]:
        """Check the files behind these threads and repair drift (summarising pending
        files); the threads whose rows changed."""
        touched: set[str] = set()
        with self._transaction():
            for thread_id in thread_ids:
                for row in self.conn.execute(
                    "SELECT path, size, mtime_ns FROM rollout_files WHERE thread_id=?",
                    (thread_id,),
                ).fetchall():
                    try:
                        stat = os.stat(row["path"])
                    except FileNotFoundError:
                        self._drop_file(row["path"], thread_id, touched)
                        continue
                    if row["size"] != stat.st_size or row["mtime_ns"] != stat.st_mtime_ns:
                        self._fold(row["path"], touched)
            for thread_id in touched:
                self._materialize(thread_id)
        return touched

    def search_backlog(self) -> list[str]:
        """Files a search must read first: pending ones, and those whose full-text part
        lags their summary (the middle of a large file), newest first."""
        return [
            row[0]
            for row in self.conn.execute(
                "SELECT path FROM rollout_files WHERE size=? OR fts_to < built_to "
                "ORDER BY mtime_ns DESC",
                (_NEVER_FOLDED,),
            )
        ]

    def complete_search(
        self, progress: Progress | None = None, *, backlog: list[str] | None = None
    ) -> None:
        """Summarise every pending file and complete every file's full-text part."""
        paths = self.search_backlog() if backlog is None else backlog
        # Batches keep each transaction short; a large file is a batch of its own so the
        # progress moves and others' writes are not held up behind it.
        done = 0
        while done < len(paths):
            touched: set[str] = set()
            with self._transaction():
                read, first = 0, done
                while done < len(paths) and read < _BATCH_BYTES and done - first < _BATCH_FILES:
                    path = paths[done]
                    with contextlib.suppress(FileNotFoundError):
                        read += os.stat(path).st_size
                    self._complete_messages(path, touched)
                    done += 1
                for thread_id in touched:
                    self._materialize(thread_id)
            if progress is not None:
                progress(done, len(paths))

    def rebuild(self, progress: Progress | None = None) -> None:
        """Forget everything and index every file again."""
        schema.recreate(self.conn, unless_current=False)
        self.sync(full=True)
        self.complete_search(progress)
