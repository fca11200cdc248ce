"""Warnings that llmx's lower layers log, shown in the session instead of on stderr
(which would write over the screen the app draws)."""

from __future__ import annotations

import logging
from collections.abc import Callable

_NAME = "llmx-session-notes"


class _ToNotes(logging.Handler):
    def __init__(self, note: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self.set_name(_NAME)
        self._note = note

    def emit(self, record: logging.LogRecord) -> None:
        self._note(f"warning: {record.getMessage()}")


def route_log_warnings_to(note: Callable[[str], None]) -> None:
    """Send the ``llmx`` logger's warnings to ``note`` (and nowhere else)."""
    logger = logging.getLogger("llmx")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.addHandler(_ToNotes(note))
    logger.propagate = False
