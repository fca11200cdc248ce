"""JSON nested 1,000 levels deep is a bad line like any other, in every reader of the store.

Decoders recurse, so such a line used to end every reader in ``RecursionError``. Each
reader here gets a real file holding good lines around one that nests too deeply, and
must report or skip that line and read all the others.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import fixture_rollouts

from llmx.events.history import HistoryFile
from llmx.events.lines import LineError, decode_line
from llmx.events.nesting import MAX_JSON_NESTING, nests_too_deeply
from llmx.events.reader import RolloutReader
from llmx.events.reverse_reader import ReverseRolloutReader
from llmx.projections.sessions.summary import FileSummary, TailFold, fold_line, user_message_in

DEPTH = 1000


def deep_json(depth: int = DEPTH) -> bytes:
    return b"[" * depth + b"]" * depth


def deep_line(depth: int = DEPTH) -> bytes:
    """A rollout line whose payload nests ``depth`` levels deep."""
    return (
        b'{"timestamp":"2026-01-01T00:00:00.000Z","ordinal":1,"type":"event_msg",'
        b'"payload":{"type":"user_message","message":"x","images":' + deep_json(depth) + b"}}"
    )


@pytest.fixture
def rollout(tmp_path: Path) -> tuple[Path, int]:
    """A Codex rollout with a deep line inserted as line 3 and another as its last line."""
    lines = fixture_rollouts()[0].read_bytes().splitlines(keepends=True)
    path = tmp_path / "deep.jsonl"
    path.write_bytes(b"".join([*lines[:2], deep_line() + b"\n", *lines[2:], deep_line() + b"\n"]))
    return path, len(lines)


def test_the_depth_limit_counts_structure_not_text() -> None:
    assert not nests_too_deeply(deep_json(MAX_JSON_NESTING))
    assert nests_too_deeply(deep_json(MAX_JSON_NESTING + 1))
    # Brackets inside strings are text: a line full of them is not deep.
    text = json.dumps({"message": "[[[{{{" * 5000, "nested": [[["\\\"[["]]]}).encode()
    assert not nests_too_deeply(text)
    assert nests_too_deeply(deep_json().decode())


def test_decode_line_refuses_with_a_reason() -> None:
    with pytest.raises(LineError, match=f"nested more than {MAX_JSON_NESTING} levels"):
        decode_line(deep_line())
    # A line within the limit decodes (Codex reads up to the same depth).
    assert decode_line(deep_line(MAX_JSON_NESTING - 3)).type == "event_msg"


def test_forward_reader_reports_the_lines_and_reads_the_rest(rollout: tuple[Path, int]) -> None:
    path, good = rollout
    reader = RolloutReader(path)
    lines = list(reader)
    assert len(lines) == good
    assert [problem.number for problem in reader.problems] == [3, good + 2]
    assert all("nested more than" in problem.reason for problem in reader.problems)


def test_reverse_reader_reports_the_lines_and_reads_the_rest(rollout: tuple[Path, int]) -> None:
    path, good = rollout
    reader = ReverseRolloutReader(path)
    assert len(list(reader)) == good
    assert [problem.number for problem in reader.problems] == [3, good + 2]


def test_session_summary_counts_them_unreadable(rollout: tuple[Path, int]) -> None:
    path, _good = rollout
    summary = FileSummary(str(path), "t", "")
    for number, line in enumerate(path.read_bytes().splitlines()):
        fold_line(summary, line, first=number == 0)
    assert summary.unreadable_lines == 2
    assert summary.first_user_message == "add hello.txt"
    tail = TailFold(FileSummary(str(path), "t", ""))
    tail.apply(deep_line())
    assert tail.summary.unreadable_lines == 1
    assert user_message_in(deep_line()) is None


def test_history_skips_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    entry = b'{"session_id":"s","ts":1,"text":"%s"}\n'
    deep_entry = b'{"session_id":"s","ts":1,"text":"x","more":' + deep_json() + b"}\n"
    path.write_bytes(entry % b"first" + deep_entry + entry % b"third")
    history = HistoryFile(path)
    scan = history.read_all()
    assert [e.text for e in scan.entries] == ["first", "third"]
    assert scan.unreadable_lines == 1
    assert history.lookup(0, 1) is None
    found = history.lookup(0, 2)
    assert found is not None
    assert found.text == "third"


def test_rollout_check_names_lines_deeper_than_codex_reads(tmp_path: Path) -> None:
    """200 levels decode in llmx but not in the Codex CLI (serde_json stops at 128):
    ``rollout check`` reports such a line, the readers still read it."""
    import subprocess
    import sys

    lines = fixture_rollouts()[0].read_bytes().splitlines(keepends=True)
    path = tmp_path / "deepish.jsonl"
    path.write_bytes(b"".join([*lines, deep_line(200) + b"\n"]))
    assert len(list(RolloutReader(path))) == len(lines) + 1
    result = subprocess.run(
        [sys.executable, "-m", "llmx", "rollout", "check", str(path)],
        capture_output=True, text=True, check=False, timeout=60,
    )
    assert result.returncode == 1
    assert f"{path}:{len(lines) + 1}: JSON nested more than 128 levels deep" in result.stderr


@pytest.mark.parametrize(
    "payload",
    [
        b'{"type":"response_item","payload":{"type":"message","role":"user","content":%s}}',
        b'{"type":"event_msg","payload":{"type":"token_count","info":%s}}',
        b'{"type":"event_msg","payload":{"type":"task_started","turn_id":%s}}',
        b'{"type":"turn_context","payload":{"cwd":"/w","model":%s}}',
        b'{"type":"compacted","payload":{"message":"m","replacement_history":%s}}',
        b'{"type":"session_meta","payload":{"id":%s}}',
    ],
    ids=["response_item", "token_count", "task_started", "turn_context", "compacted", "meta"],
)
def test_the_resume_fold_skips_and_reports_deep_lines(tmp_path: Path, payload: bytes) -> None:
    from llmx.projections.resume import fold_resume, fold_resume_raw

    lines = fixture_rollouts()[0].read_bytes().splitlines(keepends=True)
    path = tmp_path / "deep.jsonl"
    clean = tmp_path / "clean.jsonl"
    clean.write_bytes(b"".join(lines))
    path.write_bytes(b"".join([*lines[:3], payload % deep_json() + b"\n", *lines[3:]]))
    expected = fold_resume(clean)
    for fold in (fold_resume, fold_resume_raw):
        state = fold(path)
        assert [skipped.reason for skipped in state.skipped] == [
            f"JSON nested more than {MAX_JSON_NESTING} levels deep"
        ]
        assert len(state.history) == len(expected.history)
