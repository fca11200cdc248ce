"""The one line every frontend says for a thread that could not be opened, or whose
rollout could not be written (``exec``, ``fork``, ``rollback``, and the interactive
session: on the terminal when it ends, above the composer while it runs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmx.cli.errors import CommandError, os_error

if TYPE_CHECKING:
    from llmx.runtime import ThreadError


def thread_error(exc: ThreadError | OSError) -> CommandError:
    """``exc`` as one error line: what happened, and what to do."""
    if isinstance(exc, OSError):
        return os_error(exc)
    if exc.cause is not None:
        return os_error(exc.cause, exc.path, doing=exc.doing)
    return CommandError(exc.what, exc.todo)
