"""The derived offset index: rebuilt when missing, torn or stale; lookups do not scan."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from llmx.events.history import HistoryEntry, HistoryFile
from llmx.events.history_offsets import HEADER, header_for


@pytest.fixture
def history(tmp_path: Path) -> HistoryFile:
    history = HistoryFile(tmp_path / "history.jsonl")
    for i in range(50):
        history.append(f"s{i}", f"prompt number {i}", ts=i)
    return history


def _expect(history: HistoryFile, n: int) -> None:
    assert history.lookup(history.metadata().log_id, n) == HistoryEntry(
        f"s{n}", n, f"prompt number {n}"
    )


def test_index_tracks_appends(history: HistoryFile) -> None:
    header = header_for(history.offsets_path)
    assert header is not None
    assert header.count == 50
    assert header.covered == history.path.stat().st_size
    assert header.inode == history.path.stat().st_ino
    assert history.offsets_path.stat().st_size == HEADER.size + 50 * 8


def test_deleted_index_is_rebuilt(history: HistoryFile) -> None:
    history.offsets_path.unlink()
    _expect(history, 42)
    header = header_for(history.offsets_path)
    assert header is not None
    assert header.count == 50


@pytest.mark.parametrize("keep_bytes", [0, 5, HEADER.size, HEADER.size + 7 * 8 + 3])
def test_truncated_index_is_rebuilt(history: HistoryFile, keep_bytes: int) -> None:
    os.truncate(history.offsets_path, keep_bytes)
    _expect(history, 49)
    _expect(history, 0)
    assert history.metadata().entry_count == 50


def test_index_of_another_inode_is_rebuilt(history: HistoryFile) -> None:
    # Replace the history by a copy (new inode) holding the first 30 lines.
    lines = history.path.read_bytes().split(b"\n")[:30]
    copy = history.path.with_name("copy")
    copy.write_bytes(b"\n".join(lines) + b"\n")
    os.replace(copy, history.path)
    assert history.metadata().entry_count == 30
    _expect(history, 29)
    assert history.lookup(0, 30) is None


def test_file_rewritten_in_place_shorter_is_detected(history: HistoryFile) -> None:
    # Older Codex trimmed in place (same inode, shorter file).
    lines = history.path.read_bytes().split(b"\n")
    with history.path.open("r+b") as raw:
        raw.truncate(0)
        raw.write(b"\n".join(lines[40:50]) + b"\n")
    found = history.lookup(0, 0)
    assert found == HistoryEntry("s40", 40, "prompt number 40")


def test_wrong_offsets_are_never_trusted(history: HistoryFile) -> None:
    # Point every slot one byte off, keeping a header that looks valid.
    with history.offsets_path.open("r+b") as raw:
        for slot in range(50):
            raw.seek(HEADER.size + slot * 8)
            (start,) = struct.unpack("<Q", raw.read(8))
            raw.seek(HEADER.size + slot * 8)
            raw.write(struct.pack("<Q", start + 1))
    _expect(history, 17)
    _expect(history, 0)


def _bytes_read_by_this_process() -> int:
    with open("/proc/self/io") as io:
        for line in io:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="needs Linux /proc/self/io")
def test_lookup_reads_a_few_bytes_not_the_file(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    line = b'{"session_id":"s","ts":1,"text":"' + b"y" * 200 + b'"}\n'
    path.write_bytes(line * 40_000)  # about 9 MB, written by "another program"
    history = HistoryFile(path)
    assert history.metadata().entry_count == 40_000  # builds the index once
    before = _bytes_read_by_this_process()
    for n in (0, 20_000, 39_999):
        assert history.lookup(0, n) is not None
    assert _bytes_read_by_this_process() - before < 16_384
