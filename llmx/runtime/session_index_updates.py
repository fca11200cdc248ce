"""Keeping the session index current as a session writes, so listings need no rescan.

The index (``llmx.projections.session_index``) is a derived store: a failure to update it
never fails a session; the next listing catches up from the files.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmx.projections.session_index import SessionIndex

logger = logging.getLogger("llmx.runtime")


class SessionIndexUpdates:
    """Folds one rollout file into the index of ``home`` after its lines were flushed."""

    def __init__(self, home: Path) -> None:
        self._home = home
        self._index: SessionIndex | None = None

    def record_flush(self, rollout_path: Path) -> None:
        # Imported here: sqlite is needed only once a turn has ended.
        import sqlite3

        from llmx.projections.session_index import SessionIndex

        try:
            if self._index is None:
                self._index = SessionIndex.open(self._home)
            self._index.record_flush(rollout_path)
        except (sqlite3.Error, OSError) as exc:
            logger.warning("session index not updated for %s: %s", rollout_path, exc)

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None
