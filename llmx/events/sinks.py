"""Where the rollout writer's bytes go: a file, or nowhere (ephemeral).

Both sinks have the same interface and the same call sequence from the writer, so
``--ephemeral`` changes the sink, never the code path. Methods are synchronous and
short (page-cache writes); the writer runs ``sync`` (fsync) off the event loop.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from llmx.events.home import FILE_MODE, ensure_private_dir
from llmx.events.outputs import blob_dir, blob_path
from llmx.events.reader import TornTail, cut_torn_tail


class RolloutSink(Protocol):
    """The storage behind one rollout.

    ``open`` materialises it (creates the file); every later call may assume it was
    opened. ``write`` gets whole lines, one call per batch.
    """

    @property
    def path(self) -> Path | None: ...

    @property
    def is_open(self) -> bool: ...

    def open(self) -> TornTail | None: ...

    def write(self, data: bytes) -> None: ...

    def store_blob(self, sha256: str, data: bytes) -> None: ...

    def sync(self) -> None: ...

    def close(self) -> None: ...


class FileSink:
    """Appends to a rollout file (0600, in 0700 folders), created on :meth:`open`.

    Opening an existing file (resume) first cuts a torn final line and returns what was
    cut, so the next line cannot be glued to half a line.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        return self._path

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def open(self) -> TornTail | None:
        if self._fd is not None:
            return None
        ensure_private_dir(self._path.parent)
        torn = cut_torn_tail(self._path) if self._path.exists() else None
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        os.fchmod(fd, FILE_MODE)
        self._fd = fd
        return torn

    def write(self, data: bytes) -> None:
        fd = self._require_open()
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    def store_blob(self, sha256: str, data: bytes) -> None:
        target = blob_path(self._path, sha256)
        if target.exists():
            return  # content-addressed: the same bytes are already there
        ensure_private_dir(blob_dir(self._path))
        partial = target.with_name(f".{sha256}.{os.getpid()}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, target)

    def sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _require_open(self) -> int:
        if self._fd is None:
            raise RuntimeError(f"{self._path}: the rollout sink is not open")
        return self._fd


class EphemeralSink:
    """Accepts everything and writes nothing, on every path (``--ephemeral``)."""

    def __init__(self) -> None:
        self._open = False
        self.bytes_accepted = 0

    @property
    def path(self) -> None:
        return None

    @property
    def is_open(self) -> bool:
        return self._open

    def open(self) -> TornTail | None:
        self._open = True
        return None

    def write(self, data: bytes) -> None:
        if not self._open:
            raise RuntimeError("the ephemeral rollout sink is not open")
        self.bytes_accepted += len(data)

    def store_blob(self, sha256: str, data: bytes) -> None:
        return None

    def sync(self) -> None:
        return None

    def close(self) -> None:
        self._open = False
