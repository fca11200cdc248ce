"""``history.offsets``: a derived index of line start offsets in ``history.jsonl``.

It lets a lookup of entry *n* read 16 bytes and one line instead of scanning the file.
The index is disposable: it is rebuilt whenever it is missing, torn, or describes another
file (the inode changed because the history was trimmed and renamed into place, or the
file is shorter than the index says because someone rewrote it in place). Readers never
trust it blindly: the line an offset points at is checked before it is returned.

Layout (little-endian)::

    header  8s  magic  b"LLMXHOF1"
            Q   inode of the history file the index describes
            Q   bytes of the history file covered (the end of the last complete line)
            Q   entry count (the number of slots that are valid)
    slots   Q * count   byte offset where each complete line starts

Slots past ``count`` are leftovers of an interrupted catch-up and are overwritten.
Writers of the index hold an exclusive ``flock`` on it; readers hold a shared one.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import msgspec

from llmx.events.file_lock import LockMode, locked

MAGIC = b"LLMXHOF1"
HEADER = struct.Struct("<8sQQQ")
SLOT = struct.Struct("<Q")
_SCAN_CHUNK = 1 << 20


def offsets_path_for(history: Path) -> Path:
    return history.with_suffix(".offsets")


class IndexHeader(msgspec.Struct, frozen=True):
    inode: int
    covered: int
    count: int

    def describes(self, inode: int, size: int) -> bool:
        """True when the slots are valid for a history file of this inode and size."""
        return self.inode == inode and self.covered <= size


class LineSpan(msgspec.Struct, frozen=True):
    """Where entry ``n`` is in the history file: ``[start, end)``, ``end`` after its ``\\n``."""

    start: int
    end: int


def _read_header(index: BinaryIO) -> IndexHeader | None:
    raw = os.pread(index.fileno(), HEADER.size, 0)
    if len(raw) != HEADER.size:
        return None
    magic, inode, covered, count = HEADER.unpack(raw)
    if magic != MAGIC:
        return None
    if os.fstat(index.fileno()).st_size < HEADER.size + count * SLOT.size:
        return None  # torn: the header claims slots the file does not hold
    return IndexHeader(inode, covered, count)


def _line_starts(history: BinaryIO, begin: int, size: int) -> tuple[list[int], int]:
    """Start offsets of the complete lines in ``[begin, size)`` and where the last one ends."""
    starts: list[int] = []
    line_start = begin
    position = begin
    fd = history.fileno()
    while position < size:
        chunk = os.pread(fd, min(_SCAN_CHUNK, size - position), position)
        if not chunk:
            break
        found = chunk.find(b"\n")
        while found != -1:
            starts.append(line_start)
            line_start = position + found + 1
            found = chunk.find(b"\n", found + 1)
        position += len(chunk)
    return starts, line_start


def _write_slots(index: BinaryIO, first_slot: int, starts: list[int]) -> None:
    if starts:
        packed = struct.pack(f"<{len(starts)}Q", *starts)
        os.pwrite(index.fileno(), packed, HEADER.size + first_slot * SLOT.size)


def _store_header(index: BinaryIO, header: IndexHeader) -> None:
    # Slots first, header last: a crash in between leaves a header that still tells the
    # truth about fewer slots.
    os.pwrite(index.fileno(), HEADER.pack(MAGIC, header.inode, header.covered, header.count), 0)


def _open_index(path: Path) -> BinaryIO:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return os.fdopen(fd, "r+b", buffering=0)


def catch_up(index_path: Path, history: BinaryIO, *, rebuild: bool = False) -> IndexHeader:
    """Bring the index up to date with ``history`` (an open handle the caller has locked).

    Incremental when the index describes this file and the file only grew; a rebuild
    otherwise, or when ``rebuild`` says a line it pointed at did not check out.
    Returns the header now on disk.
    """
    stat = os.fstat(history.fileno())
    with _open_index(index_path) as index, locked(index, LockMode.EXCLUSIVE, str(index_path)):
        header = _read_header(index)
        stale = rebuild or header is None or not header.describes(stat.st_ino, stat.st_size)
        if header is None or stale:
            os.ftruncate(index.fileno(), 0)
            header = IndexHeader(stat.st_ino, 0, 0)
        elif header.covered == stat.st_size:
            return header
        starts, covered = _line_starts(history, header.covered, stat.st_size)
        _write_slots(index, header.count, starts)
        updated = IndexHeader(header.inode, covered, header.count + len(starts))
        _store_header(index, updated)
        return updated


def write_fresh(index_path: Path, inode: int, starts: list[int], covered: int) -> None:
    """Replace the index with one built from known offsets (after a trim wrote a new file)."""
    tmp = index_path.with_name(index_path.name + f".tmp.{os.getpid()}")
    with _open_index(tmp) as index:
        os.ftruncate(index.fileno(), 0)
        _write_slots(index, 0, starts)
        _store_header(index, IndexHeader(inode, covered, len(starts)))
    os.replace(tmp, index_path)


@contextmanager
def _shared_index(index_path: Path) -> Iterator[BinaryIO | None]:
    try:
        fd = os.open(index_path, os.O_RDONLY)
    except FileNotFoundError:
        yield None
        return
    with os.fdopen(fd, "rb", buffering=0) as index, locked(
        index, LockMode.SHARED, str(index_path)
    ):
        yield index


def read_span(index_path: Path, inode: int, size: int, entry: int) -> LineSpan | None:
    """Where entry ``entry`` starts and ends, or None when the index cannot say (yet)."""
    with _shared_index(index_path) as index:
        if index is None:
            return None
        header = _read_header(index)
        if header is None or not header.describes(inode, size) or entry >= header.count:
            return None
        fd = index.fileno()
        if entry + 1 < header.count:
            start, end = struct.unpack("<2Q", os.pread(fd, 2 * SLOT.size, HEADER.size + entry * 8))
        else:
            (start,) = SLOT.unpack(os.pread(fd, SLOT.size, HEADER.size + entry * 8))
            end = header.covered
        return LineSpan(start, end)


def header_for(index_path: Path) -> IndexHeader | None:
    with _shared_index(index_path) as index:
        return None if index is None else _read_header(index)
