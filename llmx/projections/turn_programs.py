"""Which program ran each turn of a rollout.

``session_meta`` names the program that started the thread; llmx writes a ``writer`` line
(its ``originator`` and ``cli_version``) before each turn it runs, since llmx and Codex may
take turns on one file. A turn is attributed to the ``writer`` line right before its
``task_started``; without one, to the program of ``session_meta``, unless that is llmx and
the file already has ``writer`` lines: then another program ran the turn, one that leaves
no such line (Codex), and which one is not on record.
"""

from __future__ import annotations

import msgspec


class Program(msgspec.Struct, frozen=True):
    """The program that wrote a turn; ``version`` None when it is not on record."""

    product: str
    version: str | None
    originator: str | None

    @property
    def title(self) -> str:
        """``llmx v0.1.0``, ``OpenAI Codex v0.169.0``: the first line of exec's header."""
        if self.version is None:
            return f"{self.product} (version not recorded)"
        return f"{self.product} v{self.version}"


UNRECORDED = Program("another program", None, None)


def program_of(originator: str | None, cli_version: str | None) -> Program:
    """The program a ``session_meta`` or ``writer`` line names by its ``originator`` and
    ``cli_version`` (None where the line has none)."""
    product = "llmx" if (originator or "").startswith("llmx") else "OpenAI Codex"
    return Program(product, cli_version or "0.0.0", originator)


_UNNAMED = program_of(None, None)


class TurnWriters:
    """Feed ``session_meta``, ``writer`` and ``task_started`` in file order; ask who wrote
    the current turn."""

    def __init__(self) -> None:
        self._meta: Program | None = None
        self._pending: Program | None = None
        self._seen_writer = False
        self.current: Program | None = None

    def on_meta(self, program: Program) -> None:
        """The program a ``session_meta`` names (:func:`program_of`)."""
        if self._meta is None:  # the first one is canonical
            self._meta = program

    def on_writer(self, program: Program) -> None:
        """The program a ``writer`` line names."""
        self._pending = program
        self._seen_writer = True

    def on_turn_started(self) -> Program:
        """A turn starts: the program that runs it (see the module docstring)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            current = pending
        elif self._meta is not None and self._meta.product == "llmx" and self._seen_writer:
            current = UNRECORDED
        else:
            current = self._meta or _UNNAMED
        self.current = current
        return current

    def for_implicit_turn(self) -> Program:
        """The program of a turn with no ``task_started`` (eras before it)."""
        return self.current or self._pending or self._meta or _UNNAMED
