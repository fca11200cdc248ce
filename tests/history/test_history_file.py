"""history.jsonl: format, modes, persistence, trimming and lookups (single process)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from support import CODEX_FIXTURES, CODEX_RICH_FIXTURES

from llmx.events.history import (
    HistoryConfig,
    HistoryEntry,
    HistoryFile,
    HistoryMetadata,
    HistoryPersistence,
)


@pytest.fixture
def history(tmp_path: Path) -> HistoryFile:
    return HistoryFile(tmp_path / "home" / "history.jsonl")


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_lines_are_codex_entries_in_codex_field_order(history: HistoryFile) -> None:
    history.append("019c9612-a22c-77d3-9a11-1234567890ab", "fix the test", ts=1795239245)
    history.append("019c9612-a22c-77d3-9a11-1234567890ab", 'quote " and\nnewline', ts=1795239246)
    raw = history.path.read_bytes()
    assert raw.count(b"\n") == 2
    first = raw.split(b"\n")[0]
    assert first == (
        b'{"session_id":"019c9612-a22c-77d3-9a11-1234567890ab",'
        b'"ts":1795239245,"text":"fix the test"}'
    )
    assert json.loads(raw.split(b"\n")[1])["text"] == 'quote " and\nnewline'


def test_file_and_folder_are_private(history: HistoryFile) -> None:
    history.append("s", "hello")
    assert _mode(history.path) == 0o600
    assert _mode(history.path.parent) == 0o700
    assert _mode(history.offsets_path) == 0o600


def test_wrong_mode_is_repaired_on_append(history: HistoryFile) -> None:
    history.append("s", "one")
    os.chmod(history.path, 0o644)
    history.append("s", "two")
    assert _mode(history.path) == 0o600
    assert [e.text for e in history.read_all().entries] == ["one", "two"]


def test_persistence_none_writes_nothing(tmp_path: Path) -> None:
    quiet = HistoryFile(tmp_path / "history.jsonl", HistoryConfig(HistoryPersistence.NONE))
    assert quiet.append("s", "secret") is False
    assert not quiet.path.exists()
    assert quiet.metadata() == HistoryMetadata(0, 0)
    assert quiet.lookup(0, 0) is None


def test_metadata_is_inode_and_line_count(history: HistoryFile) -> None:
    assert history.metadata() == HistoryMetadata(0, 0)
    for i in range(3):
        history.append("s", f"p{i}")
    assert history.metadata() == HistoryMetadata(os.stat(history.path).st_ino, 3)


def test_lookup_returns_the_entry_or_none(history: HistoryFile) -> None:
    for i in range(10):
        history.append(f"s{i}", f"prompt {i}", ts=100 + i)
    log_id = history.metadata().log_id
    assert history.lookup(log_id, 7) == HistoryEntry("s7", 107, "prompt 7")
    assert history.lookup(0, 0) == HistoryEntry("s0", 100, "prompt 0")
    assert history.lookup(log_id, 10) is None
    assert history.lookup(log_id, -1) is None
    assert history.lookup(log_id + 1, 0) is None


def test_conversation_id_entries_of_older_codex_are_read(history: HistoryFile) -> None:
    history.path.parent.mkdir(mode=0o700)
    history.path.write_text(
        '{"conversation_id":"c-1","ts":5,"text":"old name"}\n'
        '{"session_id":"s-2","ts":6,"text":"new name"}\n'
    )
    assert history.lookup(0, 0) == HistoryEntry("c-1", 5, "old name")
    assert [e.session_id for e in history.read_all().entries] == ["c-1", "s-2"]


def test_corrupt_lines_are_skipped_and_counted(history: HistoryFile) -> None:
    history.append("s", "good one")
    with history.path.open("ab") as raw:
        raw.write(b"{not json\n")
    history.append("s", "good two")
    scan = history.read_all()
    assert [e.text for e in scan.entries] == ["good one", "good two"]
    assert scan.unreadable_lines == 1
    assert history.lookup(0, 1) is None
    assert history.lookup(0, 2) == HistoryEntry("s", scan.entries[1].ts, "good two")


def test_torn_tail_is_ended_before_the_next_append(history: HistoryFile) -> None:
    history.append("s", "complete")
    with history.path.open("ab") as raw:
        raw.write(b'{"session_id":"s","ts":1,"te')  # a writer died mid-line
    history.append("s", "after the crash")
    lines = history.path.read_bytes().split(b"\n")
    assert lines[1] == b'{"session_id":"s","ts":1,"te'  # kept, not lost
    assert json.loads(lines[2])["text"] == "after the crash"
    assert history.lookup(0, 2) is not None
    assert history.metadata().entry_count == 3


def test_trim_keeps_newest_within_soft_target_in_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    history = HistoryFile(path, HistoryConfig(max_bytes=1000))
    history.append("s", "entry 000", ts=1)
    line_len = path.stat().st_size
    trims = 0
    for i in range(1, 200):
        before = path.stat().st_ino
        history.append("s", f"entry {i:03d}", ts=1)
        size = path.stat().st_size
        assert size <= 1000
        if path.stat().st_ino != before:
            trims += 1
            # Oldest whole lines were dropped until the size fell to the 80% soft target.
            assert 800 - line_len < size <= 800
    assert trims >= 2
    texts = [e.text for e in history.read_all().entries]
    assert texts == [f"entry {i:03d}" for i in range(200 - len(texts), 200)]
    assert _mode(path) == 0o600


def test_trim_always_keeps_the_newest_entry_even_if_larger_than_the_target(
    tmp_path: Path,
) -> None:
    history = HistoryFile(tmp_path / "history.jsonl", HistoryConfig(max_bytes=100))
    history.append("s", "small")
    history.append("s", "x" * 500)
    assert [e.text for e in history.read_all().entries] == ["x" * 500]


def test_lookup_after_replacement_returns_none(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    history = HistoryFile(path, HistoryConfig(max_bytes=400))
    history.append("s", "first")
    history.append("s", "second", ts=7)
    old = history.metadata()
    assert history.lookup(old.log_id, 1) == HistoryEntry("s", 7, "second")
    # Keep the old file alive (as a client of it would) so its inode is not reused.
    keep_old = path.open("rb")
    try:
        for i in range(20):
            history.append("s", f"filler {i}")
        new = history.metadata()
        assert new.log_id != old.log_id
        assert history.lookup(old.log_id, 0) is None
        assert history.lookup(new.log_id, new.entry_count - 1) is not None
        assert keep_old.read().startswith(b'{"session_id":"s"')  # the old file is intact
    finally:
        keep_old.close()


def test_codex_written_history_files_load() -> None:
    for fixture in (CODEX_FIXTURES, CODEX_RICH_FIXTURES):
        path = fixture / "codex-home" / "history.jsonl"
        raw_lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
        scan = HistoryFile(path).read_all()
        assert scan.unreadable_lines == 0
        assert [e.text for e in scan.entries] == [json.loads(ln)["text"] for ln in raw_lines]
