"""The TUI's way to its threads: one ``ThreadManager`` for the whole process.

Every thread the app shows is opened, resumed or forked here, with the flags the user
gave (``ThreadOptions``), and the app talks to it only through the ``AgentThread`` it gets
back (submit, subscribe, close). The manager is built on the app's own event loop when
the app starts (its HTTP client and the threads' tasks belong to that loop).

Nothing of the runtime is imported before the first thread is opened: the app draws its
first screen before it pays for the runtime's imports, the configuration and the model
client (the options themselves may be given as a function that builds them then).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmx.cli.otel_threads import ThreadExports
    from llmx.runtime import AgentThread, ThreadManager, ThreadOptions, ThreadRef

# How the interactive session names itself in a new thread's session_meta and to the
# model provider. ``cli`` is the source Codex records for its TUI, so listings that show
# interactive sessions (Codex's resume picker, the app-server's thread/list) show ours.
ORIGINATOR = "llmx_tui"
SOURCE = "cli"


class Door:
    """Opens the threads of one interactive session (``/new``, ``/resume``, ``/fork``)."""

    def __init__(self, options: ThreadOptions | Callable[[], ThreadOptions],
                 home: Path | None = None) -> None:
        self._options = options
        self.home = home
        self._manager: ThreadManager | None = None
        self.on_warning: Callable[[str], None] = lambda message: None
        self._exports: ThreadExports | None = None
        # What the OpenTelemetry export could not deliver, said once the app has ended.
        self.otel_problem: str | None = None

    @property
    def options(self) -> ThreadOptions:
        if callable(self._options):
            self._options = self._options()
        return self._options

    @property
    def manager(self) -> ThreadManager:
        # Built on first use, from a coroutine of the app: on its event loop.
        if self._manager is None:
            from llmx.runtime import ThreadManager

            self._manager = ThreadManager(self.home, originator=ORIGINATOR, source=SOURCE,
                                          on_warning=self._warn)
        return self._manager

    def _warn(self, message: str) -> None:
        self.on_warning(message)

    def _watched(self, thread: AgentThread) -> AgentThread:
        """``thread``, its lines exported from now on when ``[otel]`` names an exporter."""
        if self._exports is None:
            from llmx.cli.otel_threads import ThreadExports

            self._exports = ThreadExports(self.manager.home, ORIGINATOR, on_error=self._warn)
        self._exports.watch(thread)
        return thread

    async def new(self) -> AgentThread:
        return self._watched(await self.manager.open(self.options))

    async def resume(self, ref: ThreadRef,
                     on_found: Callable[[Path], None] | None = None) -> AgentThread:
        """``on_found`` gets the rollout's path before it is folded (see the manager)."""
        return self._watched(await self.manager.resume(ref, self.options, on_found=on_found))

    async def fork(self, ref: ThreadRef, *, through_turn_id: str | None = None) -> AgentThread:
        """A fork of ``ref``: all of it, or through the turn ``through_turn_id``."""
        return self._watched(await self.manager.fork(ref, self.options,
                                                     through_turn_id=through_turn_id))

    async def close(self) -> None:
        if self._manager is not None:
            await self._manager.close()
        if self._exports is not None:
            self.otel_problem = await self._exports.close()
