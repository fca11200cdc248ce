"""The shared session index on PostgreSQL: the one module that talks to the server.

A team's machines push their rollouts' summaries here (``llmx sessions sync``, see
:mod:`llmx.projections.sessions.sync`) and any of them lists, searches and shows sessions
from it (:mod:`llmx.projections.sessions.listing_shared`). Like the sqlite index it is
derived: the rollout files stay the source of truth, and every table can be dropped and
filled again by syncing.

Tables (created by the first sync; a role with ``SELECT`` on them can read, not change):

- ``llmx_threads``: one row per thread id, the columns of the sqlite ``threads`` table
  plus the ``machine`` and ``os_user`` it was synced from and its thread ``name``.
- ``llmx_files``: per ``(machine, path)`` the fold state of one rollout file and the
  position it was folded to (byte offset, size, mtime, inode), which is how a sync sends
  only what was appended, and ``message_count``, the number of its user messages stored.
- ``llmx_messages``: one row per user message, keyed ``(machine, path, seq)``, with a
  generated ``tsvector`` (the ``simple`` configuration: words, no stemming) and a GIN index.

psycopg is imported here alone, and only when a shared index is configured: nothing else
pays for it. Credentials in the URL never reach an error message (:func:`redact_url`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from llmx import install_hint
from llmx.projections.sessions import index_schema as sqlite_schema

if TYPE_CHECKING:
    import psycopg

SCHEMA_VERSION = 1
_SCHEMES = ("postgresql", "postgres")
CONNECT_TIMEOUT_S = 10
# Two syncs of one home, or two first syncs creating the tables, wait for each other on
# these advisory locks instead of racing (the key of a home's lock is hashed from it).
_SCHEMA_LOCK = 0x6C6C6D78  # "llmx"


class SharedIndexError(Exception):
    """A failure of the shared index, said as ``what`` and ``todo`` (never the password)."""

    def __init__(self, what: str, todo: str) -> None:
        super().__init__(f"{what} — {todo}")
        self.what = what
        self.todo = todo


def this_machine(configured: str | None) -> str:
    """The machine name rows are sent and looked up as: ``[index] machine``, else the
    host name."""
    import socket

    return configured or socket.gethostname()


def this_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        import os

        return str(os.getuid())


def redact_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable index url>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _scrub(text: str, url: str) -> str:
    """An error text from the server or libpq, without the URL's password in it."""
    try:
        secret = urlsplit(url).password
    except ValueError:
        secret = None
    text = text.replace(url, redact_url(url))
    if secret:
        text = text.replace(secret, "***")
    return " ".join(text.split())


def check_url(url: str) -> None:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in _SCHEMES:
        raise SharedIndexError(
            f"index url {redact_url(url)!r} is not a PostgreSQL URL",
            "give [index] url (or --index-url) as postgresql://USER@HOST:PORT/DATABASE",
        )


def _thread_columns() -> list[tuple[str, str]]:
    return [
        (name, "bigint" if sqlite_schema.thread_column_is_int(name) else "text")
        for name in sqlite_schema.thread_columns()
    ]


def _file_columns() -> list[tuple[str, str]]:
    from llmx.projections.sessions.summary import STORED_COLUMNS

    return [
        (name, "bigint" if sqlite_schema.file_column_is_int(name) else "text")
        for name in STORED_COLUMNS
    ]


THREAD_EXTRA = ("machine", "os_user", "name")


def _clean(value: Any) -> Any:
    # PostgreSQL's text cannot hold NUL, which a rollout's JSON may carry escaped.
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "")
    return value


class SharedIndex:
    """A connection to the shared index at ``url``."""

    def __init__(self, url: str, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.url = url
        self.conn = conn

    @classmethod
    def connect(cls, url: str) -> SharedIndex:
        check_url(url)
        try:
            import psycopg
            from psycopg.rows import dict_row
        except ImportError as exc:
            # The "postgres" extra is optional: a home without [index] url never needs it.
            raise SharedIndexError(
                f"the shared index needs the PostgreSQL driver psycopg, which cannot be "
                f"imported ({exc})",
                install_hint("postgres"),
            ) from None

        try:
            conn = psycopg.connect(
                url, autocommit=True, row_factory=dict_row,
                connect_timeout=CONNECT_TIMEOUT_S, application_name="llmx",
            )
        except psycopg.Error as exc:
            raise SharedIndexError(
                f"cannot connect to the shared index {redact_url(url)}: {_scrub(str(exc), url)}",
                "check [index] url (or --index-url), the server and the credentials",
            ) from None
        except (ValueError, TypeError) as exc:
            raise SharedIndexError(
                f"index url {redact_url(url)!r} is malformed ({_scrub(str(exc), url)})",
                "give it as postgresql://USER@HOST:PORT/DATABASE",
            ) from None
        return cls(url, conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> SharedIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- errors ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def failures(self, doing: str) -> Iterator[None]:
        """Turns what the server refuses into a :class:`SharedIndexError` saying what to do."""
        import psycopg
        from psycopg import errors

        try:
            yield
        except errors.InsufficientPrivilege as exc:
            raise SharedIndexError(
                f"the shared index {redact_url(self.url)} refused {doing}: "
                f"{_scrub(str(exc).splitlines()[0], self.url)}",
                "use a role that may write the llmx_* tables (this one may only read)",
            ) from None
        except errors.UndefinedTable:
            raise SharedIndexError(
                f"the shared index {redact_url(self.url)} has no sessions yet",
                "run `llmx sessions sync` first (with a role that may create tables)",
            ) from None
        except psycopg.Error as exc:
            raise SharedIndexError(
                f"the shared index {redact_url(self.url)} failed {doing}: "
                f"{_scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, self.url)}",
                "check the server and retry",
            ) from None

    # -- schema ----------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        """Create the tables if they are missing (one creator at a time). Tables of this
        version cost one query to find (every sync after the first)."""
        from psycopg import errors

        with self.failures("reading its version"):
            try:
                found = self.conn.execute(
                    "SELECT value FROM llmx_index_meta WHERE key = 'schema_version'"
                ).fetchone()
            except errors.UndefinedTable:
                found = None
        if found is not None and found["value"] == str(SCHEMA_VERSION):
            return
        with self.failures("creating its tables"), self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            found = self.conn.execute(
                "SELECT to_regclass('llmx_index_meta') IS NOT NULL AS present"
            ).fetchone()
            if found is not None and found["present"]:
                row = self.conn.execute(
                    "SELECT value FROM llmx_index_meta WHERE key = 'schema_version'"
                ).fetchone()
                version = int(row["value"]) if row else 0
                if version != SCHEMA_VERSION:
                    raise SharedIndexError(
                        f"the shared index {redact_url(self.url)} has tables of version "
                        f"{version}, this llmx writes version {SCHEMA_VERSION}",
                        "upgrade llmx on every machine, or drop the llmx_* tables and sync again",
                    )
                return
            for statement in _schema_statements():
                self.conn.execute(statement)

    # -- reading ---------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.failures("a query"):
            return self.conn.execute(sql, params).fetchall()

    # -- writing (llmx sessions sync) ------------------------------------------------------

    @contextlib.contextmanager
    def home_lock(self, machine: str, home: str) -> Iterator[None]:
        """Held while one home is synced: a second sync of it waits, then sends only what
        the first did not (a killed sync's lock goes with its connection)."""
        key = f"{machine}\n{home}"
        with self.failures("locking the home for a sync"):
            self.conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (key,))
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                self.conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))

    def file_positions(self, machine: str, home: str) -> dict[str, FilePosition]:
        """Where each rollout file of ``home`` was folded to, in one query of the few
        columns that tell an unchanged file (a sync with nothing new reads only these)."""
        from psycopg.rows import tuple_row

        with self.failures("a query"):
            rows = self.conn.cursor(row_factory=tuple_row).execute(
                "SELECT path, size, mtime_ns, inode, archived, thread_id, built_to "
                "FROM llmx_files WHERE machine = %s AND home = %s", (machine, home),
            ).fetchall()
        return {row[0]: FilePosition(*row[1:]) for row in rows}

    def file_rows(self, machine: str, paths: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The whole rows of ``paths`` (their fold state), for the files folded again."""
        if not paths:
            return {}
        rows = self.query(
            "SELECT * FROM llmx_files WHERE machine = %s AND path = ANY(%s)",
            (machine, list(paths)),
        )
        return {row["path"]: row for row in rows}

    def thread_names(self, machine: str, named: Sequence[str]) -> dict[str, str | None]:
        """The stored names of this machine's threads that have one or are in ``named``
        (every other thread's stored name is null, as is its name at home)."""
        from psycopg.rows import tuple_row

        with self.failures("a query"):
            rows = self.conn.cursor(row_factory=tuple_row).execute(
                "SELECT id, name FROM llmx_threads WHERE machine = %s "
                "AND (name IS NOT NULL OR id = ANY(%s))", (machine, list(named)),
            ).fetchall()
        return dict(rows)

    def write_batch(self, batch: SyncBatch) -> None:
        """One transaction: messages, file positions and the touched threads together, so
        a sync killed at any point leaves each file either wholly sent up to its recorded
        position or not at all."""
        file_columns = [name for name, _kind in _file_columns()]
        columns = ["machine", "home", "archived", "message_count", *file_columns]
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns[2:])
        with self.failures("writing a sync batch"), self.conn.transaction():
            cur = self.conn.cursor()
            if batch.restarted:
                cur.execute(
                    "DELETE FROM llmx_messages WHERE machine = %s AND path = ANY(%s)",
                    (batch.machine, batch.restarted),
                )
            if batch.removed:
                cur.execute(
                    "DELETE FROM llmx_messages WHERE machine = %s AND path = ANY(%s)",
                    (batch.machine, batch.removed),
                )
                cur.execute(
                    "DELETE FROM llmx_files WHERE machine = %s AND path = ANY(%s)",
                    (batch.machine, batch.removed),
                )
            if batch.messages:
                cur.executemany(
                    "INSERT INTO llmx_messages (machine, path, seq, thread_id, body) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    [tuple(_clean(v) for v in m) for m in batch.messages],
                )
            if batch.files:
                cur.executemany(
                    f"INSERT INTO llmx_files ({', '.join(columns)}) "
                    f"VALUES ({', '.join('%s' for _ in columns)}) "
                    f"ON CONFLICT (machine, path) DO UPDATE SET {updates}",
                    [tuple(_clean(row[c]) for c in columns) for row in batch.files],
                )
            if batch.threads:
                self._materialize(cur, batch)
            if batch.names:
                cur.executemany(
                    "UPDATE llmx_threads SET name = %s WHERE id = %s AND machine = %s",
                    [(_clean(name), thread_id, batch.machine)
                     for thread_id, name in batch.names.items()],
                )

    def _materialize(self, cur: psycopg.Cursor[dict[str, Any]], batch: SyncBatch) -> None:
        from llmx.projections.sessions.index import thread_row

        ids = sorted(batch.threads)
        cur.execute(
            "SELECT * FROM llmx_files WHERE machine = %s AND thread_id = ANY(%s) "
            "ORDER BY thread_id, segment_id",
            (batch.machine, ids),
        )
        by_thread: dict[str, list[dict[str, Any]]] = {}
        for row in cur.fetchall():
            row["pending"] = 0
            by_thread.setdefault(row["thread_id"], []).append(row)
        gone = [thread_id for thread_id in ids if thread_id not in by_thread]
        if gone:
            cur.execute(
                "DELETE FROM llmx_threads WHERE machine = %s AND id = ANY(%s)",
                (batch.machine, gone),
            )
        if not by_thread:
            return
        rows = []
        for thread_id, files in by_thread.items():
            row = thread_row(files)
            row["machine"] = batch.machine
            row["os_user"] = batch.user
            row["name"] = batch.all_names.get(thread_id)
            rows.append(row)
        names = list(rows[0])
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in names if c != "id")
        cur.executemany(
            f"INSERT INTO llmx_threads ({', '.join(names)}) "
            f"VALUES ({', '.join('%s' for _ in names)}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates}",
            [tuple(_clean(row[n]) for n in names) for row in rows],
        )


class FilePosition(NamedTuple):
    """What a sync compares a rollout file's ``stat`` with (a row of ``llmx_files``)."""

    size: int
    mtime_ns: int
    inode: int
    archived: int
    thread_id: str
    built_to: int


class SyncBatch:
    """What one transaction of a sync writes."""

    def __init__(self, machine: str, user: str, all_names: dict[str, str]) -> None:
        self.machine = machine
        self.user = user
        self.all_names = all_names
        self.files: list[dict[str, Any]] = []
        self.messages: list[tuple[str, str, int, str, str]] = []
        self.restarted: list[str] = []
        self.removed: list[str] = []
        self.threads: set[str] = set()
        self.names: dict[str, str | None] = {}

    def __bool__(self) -> bool:
        return bool(self.files or self.removed or self.threads or self.names)


def _schema_statements() -> list[str]:
    threads = ", ".join(
        # Ids compare byte-wise whatever the database's collation: cursors rely on it.
        f"{name} {kind}" + (' COLLATE "C"' if name == "id" else "")
        + (" NOT NULL" if name in ("id", "rollout_path") else "")
        for name, kind in _thread_columns()
    )
    files = ", ".join(f"{name} {kind}" for name, kind in _file_columns())
    return [
        "CREATE TABLE llmx_index_meta (key text PRIMARY KEY, value text NOT NULL)",
        f"INSERT INTO llmx_index_meta VALUES ('schema_version', '{SCHEMA_VERSION}')",
        f"CREATE TABLE llmx_threads ({threads}, machine text NOT NULL, os_user text NOT NULL, "
        "name text, PRIMARY KEY (id))",
        "CREATE INDEX llmx_threads_listing ON llmx_threads "
        "(archived, updated_at_ms DESC, id DESC)",
        "CREATE INDEX llmx_threads_by_cwd ON llmx_threads (archived, latest_cwd)",
        "CREATE INDEX llmx_threads_by_name ON llmx_threads (name)",
        f"CREATE TABLE llmx_files (machine text NOT NULL, home text NOT NULL, "
        f"archived integer NOT NULL, message_count integer NOT NULL, {files}, "
        "PRIMARY KEY (machine, path))",
        "CREATE INDEX llmx_files_by_home ON llmx_files (machine, home)",
        "CREATE INDEX llmx_files_by_thread ON llmx_files (machine, thread_id)",
        "CREATE TABLE llmx_messages (machine text NOT NULL, path text NOT NULL, "
        "seq integer NOT NULL, thread_id text NOT NULL, body text NOT NULL, "
        "body_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED, "
        "PRIMARY KEY (machine, path, seq))",
        "CREATE INDEX llmx_messages_text ON llmx_messages USING gin (body_tsv)",
        "CREATE INDEX llmx_messages_by_thread ON llmx_messages (thread_id)",
    ]
