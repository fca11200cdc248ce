"""What the interactive session opens first: a new thread, a recorded one, or the picker."""

from __future__ import annotations

import enum

import msgspec

from llmx.runtime import ThreadRef


class StartKind(enum.Enum):
    NEW = "new"        # ``llmx``
    PICK = "pick"      # ``llmx resume``: the picker over the session index
    RESUME = "resume"  # ``llmx resume --last`` / ``llmx resume ID``


class Start(msgspec.Struct, frozen=True):
    kind: StartKind
    ref: ThreadRef | None = None
    # The picker lists every folder's sessions, not only this one's (``--all``).
    all_folders: bool = False

    @classmethod
    def new(cls) -> Start:
        return cls(StartKind.NEW)

    @classmethod
    def pick(cls, *, all_folders: bool = False) -> Start:
        return cls(StartKind.PICK, all_folders=all_folders)

    @classmethod
    def resume(cls, ref: ThreadRef) -> Start:
        return cls(StartKind.RESUME, ref)
