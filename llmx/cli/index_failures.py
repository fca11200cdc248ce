"""The session index as commands use it: a failure of it is one error line, not a traceback.

The index is a derived store (``state.sqlite``); what goes wrong with it is nearly always
the file system under it (full, read-only, a folder in its place) or another process
holding it. The message says which, and deleting the file is advised only when SQLite
reports it damaged (the index itself rebuilds a damaged file before that can happen).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from llmx.cli.errors import CommandError
from llmx.events.home import session_index_db_path
from llmx.projections.sessions.index_schema import failure


@contextlib.contextmanager
def index_failures(home: Path) -> Iterator[None]:
    """Turn an ``sqlite3.Error`` of the index of ``home`` into a :class:`CommandError`."""
    try:
        yield
    except sqlite3.Error as exc:
        raise index_error(exc, home) from None


def index_error(exc: sqlite3.Error, home: Path) -> CommandError:
    """The one line for ``exc``, an error of the session index of ``home``."""
    what, todo = failure(exc, session_index_db_path(home))
    return CommandError(what, todo)
