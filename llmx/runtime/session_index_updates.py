"""Keeping the session index current as a session writes, so listings need no rescan.

The index (``llmx.projections.sessions.index``) is a derived store: a failure to update it
never fails a session; the next listing catches up from the files.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmx.projections.sessions.index import SessionIndex

logger = logging.getLogger("llmx.runtime")


class SessionIndexUpdates:
    """Folds one rollout file into the index of ``home`` after its lines were flushed."""

    def __init__(self, home: Path) -> None:
        self._home = home
        self._index: SessionIndex | None = None
        # After one failure the session stops trying (and warning): the cause (a full or
        # read-only disk, a folder in the way) rarely goes away within a session.
        self._failed = False

    @property
    def home(self) -> Path:
        return self._home

    def record_flush(self, rollout_path: Path) -> None:
        if self._failed:
            return
        # Imported here: sqlite is needed only once a turn has ended.
        import sqlite3

        from llmx.events.home import session_index_db_path
        from llmx.projections.sessions.index import SessionIndex
        from llmx.projections.sessions.index_schema import failure

        try:
            if self._index is None:
                self._index = SessionIndex.open(self._home)
            self._index.record_flush(rollout_path)
        except sqlite3.Error as exc:
            what, _todo = failure(exc, session_index_db_path(self._home))
            self._give_up(what)
        except OSError as exc:
            self._give_up(f"cannot use {exc.filename or self._home}: {exc.strerror or exc}")

    def _give_up(self, what: str) -> None:
        self._failed = True
        self.close()
        logger.warning(
            "the session index was not updated (%s); the session goes on, and the next "
            "`llmx sessions list` catches up from the files", what,
        )

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None
