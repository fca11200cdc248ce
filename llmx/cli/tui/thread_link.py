"""What the TUI needs of a running thread: the runtime's door, seen from the frontend.

The TUI never builds a session. It is handed a :class:`ThreadLink` (one open thread of
the runtime's door) and an :class:`ThreadOpener` for the slash commands that switch
threads; everything it shows is the fold of the lines the link publishes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from llmx.events.lines import RolloutLine
from llmx.events.ops import Op


class ThreadLink(Protocol):
    @property
    def thread_id(self) -> str: ...

    @property
    def rollout_path(self) -> Path | None:
        """The thread's rollout file, once it exists (a new thread has none before its
        first prompt)."""

    async def submit(self, op: Op) -> str:
        """Log ``op`` as a submission, then let the runtime act on it; its id."""

    def subscribe(self) -> AsyncIterator[RolloutLine]:
        """Every line recorded from now on, in order; ends when the thread closes."""

    async def close(self) -> None:
        """Shut the thread down (its turn, if any, ends first) and release it."""


class ThreadOpener(Protocol):
    """Opens the threads the TUI switches to (``/new``, ``/resume``, ``/fork``)."""

    async def new(self) -> ThreadLink: ...

    async def resume(self, rollout: Path) -> ThreadLink: ...

    async def fork(self, rollout: Path) -> ThreadLink: ...
