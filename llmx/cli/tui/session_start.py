"""What the interactive session opens first: a new thread, a recorded one, or the picker.

It is the command line's wish as plain data: the first screen is drawn before the
runtime is imported, and :meth:`Start.ref` turns it into the runtime's ``ThreadRef``
once the session opens.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmx.runtime import ThreadRef


class StartKind(enum.Enum):
    NEW = "new"        # ``llmx``
    PICK = "pick"      # ``llmx resume``: the picker over the session index
    RESUME = "resume"  # ``llmx resume --last`` / ``llmx resume ID``


@dataclass(frozen=True, slots=True)
class Start:
    kind: StartKind
    # A session id, a unique prefix or a thread name, or the path of a rollout file.
    session: str = ""
    # The newest session of the folder (of any folder with ``all_folders``).
    last: bool = False
    # The picker lists every folder's sessions, not only this one's (``--all``).
    all_folders: bool = False

    @classmethod
    def new(cls) -> Start:
        return cls(StartKind.NEW)

    @classmethod
    def pick(cls, *, all_folders: bool = False) -> Start:
        return cls(StartKind.PICK, all_folders=all_folders)

    @classmethod
    def resume_last(cls, *, all_folders: bool = False) -> Start:
        return cls(StartKind.RESUME, last=True, all_folders=all_folders)

    @classmethod
    def resume_session(cls, session: str) -> Start:
        return cls(StartKind.RESUME, session=session)

    def ref(self) -> ThreadRef | None:
        """The recorded thread to resume (None for a new one or the picker)."""
        if self.kind is not StartKind.RESUME:
            return None
        from llmx.runtime import ThreadRef

        if self.last:
            return ThreadRef.last(any_cwd=self.all_folders)
        if self.session.endswith(".jsonl") and Path(self.session).is_file():
            return ThreadRef.by_path(self.session)
        return ThreadRef.by_id(self.session)
