"""``history.jsonl``: the global prompt history, in Codex's format.

One line per submitted prompt, ``{"session_id","ts","text"}``. Many processes append at
once, so every append holds an exclusive ``flock`` for a bounded time and writes its line
with one ``write``. Trimming to ``max_bytes`` writes a new file and renames it into place:
the inode is the ``log_id`` a client holds, so a client asking for entry *n* of a replaced
file gets nothing rather than some other prompt.
"""

from __future__ import annotations

import enum
import math
import os
import time
from pathlib import Path
from typing import BinaryIO, NamedTuple

import msgspec

from llmx.events import history_offsets
from llmx.events.file_lock import LockMode, LockTimeout, locked
from llmx.events.home import FILE_MODE, ensure_private_dir
from llmx.events.nesting import DECODE_ERRORS

__all__ = [
    "HistoryConfig",
    "HistoryEntry",
    "HistoryFile",
    "HistoryMetadata",
    "HistoryPersistence",
    "HistoryScan",
    "LockTimeout",
]

# Reopen attempts when the file was replaced (trimmed by another process) between our
# ``open`` and our lock; each replacement means someone else made progress.
_REPLACED_RETRIES = 100
TRIM_RATIO = 0.8


class HistoryPersistence(enum.Enum):
    SAVE_ALL = "save-all"  # append every submitted prompt (the default)
    NONE = "none"  # write nothing; lookups still read an existing file


class HistoryConfig(msgspec.Struct, frozen=True):
    persistence: HistoryPersistence = HistoryPersistence.SAVE_ALL
    # None (or 0 in the file) means unlimited.
    max_bytes: int | None = None


class HistoryEntry(msgspec.Struct, frozen=True):
    session_id: str
    ts: int
    text: str


class _StoredEntry(msgspec.Struct, frozen=True):
    # Codex wrote ``conversation_id`` for a while (about Sep-Oct 2025); accept both names.
    text: str
    ts: int | float = 0
    session_id: str | None = None
    conversation_id: str | None = None

    def entry(self) -> HistoryEntry:
        return HistoryEntry(self.session_id or self.conversation_id or "", int(self.ts), self.text)


class HistoryMetadata(NamedTuple):
    log_id: int  # the file's inode; 0 when there is no file
    entry_count: int  # the number of complete lines


class HistoryScan(NamedTuple):
    entries: list[HistoryEntry]
    unreadable_lines: int


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_StoredEntry)


def decode_entry(line: bytes) -> HistoryEntry | None:
    try:
        return _decoder.decode(line).entry()
    except DECODE_ERRORS:
        return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _repair_mode(handle: BinaryIO) -> None:
    if os.fstat(handle.fileno()).st_mode & 0o777 != FILE_MODE:
        os.fchmod(handle.fileno(), FILE_MODE)


class HistoryFile:
    """``$LLMX_HOME/history.jsonl`` and its derived offset index beside it."""

    def __init__(self, path: Path, config: HistoryConfig | None = None) -> None:
        self.path = path
        self.offsets_path = history_offsets.offsets_path_for(path)
        self.config = config or HistoryConfig()

    # -- writing -------------------------------------------------------------------------

    def append(self, session_id: str, text: str, *, ts: int | None = None) -> bool:
        """Append one prompt; False when persistence is ``none`` (nothing written)."""
        if self.config.persistence is HistoryPersistence.NONE:
            return False
        stamp = int(time.time()) if ts is None else ts
        line = _encoder.encode(HistoryEntry(session_id, stamp, text)) + b"\n"
        ensure_private_dir(self.path.parent)
        for _ in range(_REPLACED_RETRIES):
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, FILE_MODE)
            with os.fdopen(fd, "r+b", buffering=0) as handle:
                _repair_mode(handle)
                with locked(handle, LockMode.EXCLUSIVE, str(self.path)):
                    if not self._is_current(handle):
                        continue  # trimmed and replaced while we waited: use the new file
                    self._terminate_torn_line(handle)
                    _write_all(fd, line)
                    size = os.fstat(fd).st_size
                    if self.config.max_bytes and size > self.config.max_bytes:
                        self._trim(handle, self.config.max_bytes)
                    else:
                        history_offsets.catch_up(self.offsets_path, handle)
                    return True
        raise LockTimeout(f"{self.path} (it kept being replaced)")

    def _is_current(self, handle: BinaryIO) -> bool:
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return False
        return os.path.samestat(os.fstat(handle.fileno()), on_disk)

    @staticmethod
    def _terminate_torn_line(handle: BinaryIO) -> None:
        # A writer that died mid-line left bytes without a newline. Ending that line keeps
        # its bytes (readers skip it as unreadable) and keeps our entry on its own line.
        fd = handle.fileno()
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            _write_all(fd, b"\n")

    def _trim(self, handle: BinaryIO, max_bytes: int) -> None:
        """Keep the newest lines within the soft target; write them to a new file, rename."""
        fd = handle.fileno()
        data = os.pread(fd, os.fstat(fd).st_size, 0)
        lines = data.splitlines(keepends=True)
        target = max(math.floor(TRIM_RATIO * max_bytes), len(lines[-1]))
        kept = 0
        total = 0
        for line in reversed(lines):
            if kept and total + len(line) > target:
                break
            total += len(line)
            kept += 1
        retained = lines[len(lines) - kept :]
        tmp = self.path.with_name(f"{self.path.name}.tmp.{os.getpid()}")
        tmp_fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            _write_all(tmp_fd, b"".join(retained))
            os.fsync(tmp_fd)
            inode = os.fstat(tmp_fd).st_ino
        finally:
            os.close(tmp_fd)
        starts: list[int] = []
        position = 0
        for line in retained:
            starts.append(position)
            position += len(line)
        history_offsets.write_fresh(self.offsets_path, inode, starts, position)
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # -- reading -------------------------------------------------------------------------

    def _open_shared(self) -> BinaryIO | None:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        return os.fdopen(fd, "rb", buffering=0)

    def metadata(self) -> HistoryMetadata:
        """``(log_id, entry_count)`` for ``session_configured``; ``(0, 0)`` with no file."""
        handle = self._open_shared()
        if handle is None:
            return HistoryMetadata(0, 0)
        with handle, locked(handle, LockMode.SHARED, str(self.path)):
            inode = os.fstat(handle.fileno()).st_ino
            header = history_offsets.catch_up(self.offsets_path, handle)
            return HistoryMetadata(inode, header.count)

    def lookup(self, log_id: int, offset: int) -> HistoryEntry | None:
        """Entry ``offset`` (0-based) of the file ``log_id``; None if replaced or absent.

        ``log_id`` 0 means "whatever file is there now", as in Codex.
        """
        if offset < 0:
            return None
        handle = self._open_shared()
        if handle is None:
            return None
        with handle, locked(handle, LockMode.SHARED, str(self.path)):
            stat = os.fstat(handle.fileno())
            if log_id and stat.st_ino != log_id:
                return None
            for force_rebuild in (False, True):
                span = history_offsets.read_span(
                    self.offsets_path, stat.st_ino, stat.st_size, offset
                )
                if span is None or force_rebuild:
                    history_offsets.catch_up(self.offsets_path, handle, rebuild=force_rebuild)
                    span = history_offsets.read_span(
                        self.offsets_path, stat.st_ino, stat.st_size, offset
                    )
                if span is None:
                    return None  # past the end
                line = _line_at(handle, span)
                if line is not None:
                    return decode_entry(line)
            return None

    def read_all(self) -> HistoryScan:
        """Every readable entry, oldest first (unreadable lines are counted, not fatal)."""
        handle = self._open_shared()
        if handle is None:
            return HistoryScan([], 0)
        with handle, locked(handle, LockMode.SHARED, str(self.path)):
            data = os.pread(handle.fileno(), os.fstat(handle.fileno()).st_size, 0)
        entries: list[HistoryEntry] = []
        unreadable = 0
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            entry = decode_entry(line)
            if entry is None:
                unreadable += 1
            else:
                entries.append(entry)
        return HistoryScan(entries, unreadable)


def _line_at(handle: BinaryIO, span: history_offsets.LineSpan) -> bytes | None:
    """The line at ``span`` if the span really is one whole line, else None (stale index)."""
    if span.end <= span.start:
        return None
    before = 1 if span.start else 0
    raw = os.pread(handle.fileno(), span.end - span.start + before, span.start - before)
    if len(raw) != span.end - span.start + before:
        return None
    if before and raw[0:1] != b"\n":
        return None
    line = raw[before:]
    if not line.endswith(b"\n") or line.find(b"\n") != len(line) - 1:
        return None
    return line[:-1]
