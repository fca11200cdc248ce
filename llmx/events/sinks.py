"""Where the rollout writer's bytes go: a file, or nowhere (ephemeral).

Both sinks have the same interface and the same call sequence from the writer, so
``--ephemeral`` changes the sink, never the code path. Methods are synchronous and
short (page-cache writes); the writer runs ``sync`` (fsync) off the event loop.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Protocol

from llmx.events.home import FILE_MODE, ensure_private_dir
from llmx.events.outputs import PARTIAL_SUFFIX, blob_dir, blob_path, remove_partial_blobs
from llmx.events.reader import TornTail
from llmx.events.writer_lock import cut_torn_tail_locked, lock_for_writing

# A blob being written; renamed to its digest once whole and fsynced.


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

    Opening takes the file's writer lock (:mod:`llmx.events.writer_lock`) before anything
    else, and holds it until :meth:`close`: a second writer is refused with
    ``RolloutBusy``. Holding the lock, it then cuts a torn final line of an existing file
    (resume) and returns what was cut, so the next line cannot be glued to half a line, and
    removes the partial blobs a killed writer of this rollout left behind.

    A batch that cannot be written whole (a full disk) is taken back: the file is cut to
    where the batch began, and a file this sink created whose first batch failed is
    removed. The error is raised; no half line stays behind.

    An fsync of the file is not enough for a file (or a blob) just created: its name is
    an entry of its folder, written with the folder. So :meth:`sync` also fsyncs each
    folder that got a new entry since the last sync (the rollout's, the blob folder's,
    and those of folders created for them), once: after it, the file is found again
    after a power cut, not only its bytes.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None
        # True from creating the file until its first batch is written.
        self._empty_and_ours = False
        # Folders holding an entry created since the last sync.
        self._new_entries_in: set[Path] = set()

    @property
    def path(self) -> Path:
        return self._path

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def open(self) -> TornTail | None:
        if self._fd is not None:
            return None
        created_dirs = ensure_private_dir(self._path.parent)
        flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC
        try:
            fd = os.open(self._path, flags | os.O_CREAT | os.O_EXCL, FILE_MODE)
            created = True
        except FileExistsError:
            fd = os.open(self._path, flags)
            created = False
        try:
            lock_for_writing(fd, self._path)
            torn = None if created else cut_torn_tail_locked(fd)
            if stat.S_IMODE(os.fstat(fd).st_mode) != FILE_MODE:
                os.fchmod(fd, FILE_MODE)
            remove_partial_blobs(self._path)
        except BaseException:
            os.close(fd)
            if created:
                with contextlib.suppress(OSError):
                    os.unlink(self._path)
            raise
        self._fd = fd
        self._empty_and_ours = created
        if created:
            self._new_entries_in.add(self._path.parent)
        self._new_entries_in.update(folder.parent for folder in created_dirs)
        return torn

    def write(self, data: bytes) -> None:
        fd = self._require_open()
        view = memoryview(data)
        done = 0
        try:
            while done < len(view):
                done += os.write(fd, view[done:])
        except OSError as exc:
            self._take_back(fd, done)
            raise naming(exc, self._path) from None
        self._empty_and_ours = False

    def _take_back(self, fd: int, written: int) -> None:
        """Undo the first ``written`` bytes of a failed batch (this sink is the only
        writer: the lock says so), or remove a file it created that never got a batch."""
        with contextlib.suppress(OSError):
            if self._empty_and_ours:
                os.unlink(self._path)
                self._fd = None
                os.close(fd)
            elif written:
                os.ftruncate(fd, os.fstat(fd).st_size - written)

    def store_blob(self, sha256: str, data: bytes) -> None:
        target = blob_path(self._path, sha256)
        if target.exists():
            return  # content-addressed: the same bytes are already there
        folder = blob_dir(self._path)
        self._new_entries_in.update(created.parent for created in ensure_private_dir(folder))
        partial = target.with_name(f".{sha256}.{os.getpid()}{PARTIAL_SUFFIX}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(partial)
            if isinstance(exc, OSError):
                raise naming(exc, target) from None
            raise
        os.close(fd)
        os.replace(partial, target)
        self._new_entries_in.add(folder)

    def sync(self) -> None:
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise naming(exc, self._path) from None
            self._sync_new_entries()

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.fsync(fd)
                self._sync_new_entries()
            except OSError as exc:
                raise naming(exc, self._path) from None
            finally:
                os.close(fd)  # drops the writer lock

    def _sync_new_entries(self) -> None:
        """fsync each folder that got a new entry since the last sync (deepest first)."""
        folders = sorted(self._new_entries_in, key=lambda folder: len(folder.parts),
                         reverse=True)
        for folder in folders:
            try:
                fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except FileNotFoundError:
                self._new_entries_in.discard(folder)  # removed since: nothing to keep
                continue
            except OSError as exc:
                raise naming(exc, folder) from None
            try:
                os.fsync(fd)
            except OSError as exc:
                raise naming(exc, folder) from None
            finally:
                os.close(fd)
            self._new_entries_in.discard(folder)

    def _require_open(self) -> int:
        if self._fd is None:
            raise RuntimeError(f"{self._path}: the rollout sink is not open")
        return self._fd


def naming(error: OSError, path: Path) -> OSError:
    """``error`` with the file it concerns (``os.write`` and ``os.fsync`` name none)."""
    if error.filename is not None:
        return error
    return OSError(error.errno, error.strerror, str(path))


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
