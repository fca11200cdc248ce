"""A persisted session's user prompts, appended to ``$LLMX_HOME/history.jsonl``.

The rollout is the truth and ``history.jsonl`` a convenience for recalling prompts: each
prompt is appended only after its user-input submission was written to the rollout, and
a history file that cannot be written (its lock held by another process past the bounded
wait, a full disk) never fails the turn. The frontend is told once, through ``warn``.

Codex writes this file from its TUI only (``codex exec`` writes none); llmx writes it for
every persisted session, whatever the frontend. An ephemeral session has no
``PromptHistory`` at all: it writes nothing to disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmx.events.history import HistoryFile, HistoryMetadata
    from llmx.runtime.config.tables import HistoryConfig

# Called with a one-line message when the history could not be written.
Warn = Callable[[str], None]


class PromptHistory:
    """Appends prompts of one session; ``None`` stands for "no history" (ephemeral, or
    ``[history] persistence = "none"``), so callers need no flag."""

    def __init__(self, file: HistoryFile, warn: Warn) -> None:
        self._file = file
        self._warn = warn
        self._warned = False

    @classmethod
    def for_home(cls, home: Path, config: HistoryConfig, warn: Warn) -> PromptHistory | None:
        """The history of ``home`` as ``[history]`` configures it; None when it saves nothing."""
        # Imported here: the history file and its offset index are needed only when writing.
        from llmx.events.history import HistoryConfig as FileConfig
        from llmx.events.history import HistoryFile, HistoryPersistence
        from llmx.events.home import history_path

        persistence = HistoryPersistence(config.persistence.value)
        if persistence is HistoryPersistence.NONE:
            return None
        file_config = FileConfig(persistence=persistence, max_bytes=config.max_bytes or None)
        return cls(HistoryFile(history_path(home), file_config), warn)

    @property
    def path(self) -> Path:
        return self._file.path

    def metadata(self) -> HistoryMetadata:
        """``(log_id, entry_count)``: what Codex's ``session_configured`` reports as
        ``history_log_id`` and ``history_entry_count``."""
        return self._file.metadata()

    async def record(self, session_id: str, text: str) -> bool:
        """Append ``text``; False (and one warning per session) when it could not be."""
        if not text:
            return False
        try:
            # The lock may be held by another process for up to a second: not on the loop.
            return await asyncio.to_thread(self._file.append, session_id, text)
        except OSError as exc:  # LockTimeout included
            if not self._warned:
                self._warned = True
                self._warn(
                    # The reason only: the path is said once, before it.
                    f"prompt not saved to {self._file.path}: {exc.strerror or exc}; the "
                    "session goes on (its rollout has the prompt)"
                )
            return False
