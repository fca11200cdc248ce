"""``ThreadError``: why a thread could not be opened, resumed, forked or read back.

The door reports setup problems as data (what happened, what to do, and the ``OSError``
behind it, if any) rather than as text of one frontend: each frontend prints it in its
own form (``llmx exec: <what> — <what to do>``, a JSON-RPC error of the app-server).
"""

from __future__ import annotations

from pathlib import Path


class ThreadError(Exception):
    """A thread could not be set up or read: ``what`` happened, ``todo`` is the way out.

    ``cause`` is the operating-system error behind it (a full disk, a denied path), so a
    frontend can name the errno's usual remedy; ``path`` is the file it was about and
    ``doing`` what was being done to it (``"cannot read"``).
    """

    def __init__(
        self,
        what: str,
        todo: str | None = None,
        *,
        cause: OSError | None = None,
        path: Path | None = None,
        doing: str = "cannot use",
    ) -> None:
        super().__init__(what if todo is None else f"{what} — {todo}")
        self.what = what
        self.todo = todo
        self.cause = cause
        self.path = path
        self.doing = doing

    @property
    def busy(self) -> bool:
        """Another process is writing the thread's rollout (a retry may succeed later)."""
        return False

    @classmethod
    def from_os(cls, exc: OSError, path: Path, *, doing: str) -> ThreadError:
        """An OS error on ``path`` while ``doing`` it (``"cannot read"``)."""
        reason = exc.strerror or str(exc)
        return cls(f"{doing} {path}: {reason}", cause=exc, path=path, doing=doing)


class ThreadBusy(ThreadError):
    """The thread's rollout has another writer (its one writer lock is held)."""

    @property
    def busy(self) -> bool:
        return True

