"""The streaming reader on real files: bad lines by number, torn tails, bad input."""

from __future__ import annotations

import os
import shutil
import tracemalloc
from pathlib import Path

import pytest
from support import fixture_rollouts

from llmx.events.event_msgs import TaskComplete
from llmx.events.reader import (
    RolloutFileError,
    RolloutReader,
    find_torn_tail,
    read_rollout,
)
from llmx.events.records import LineType, SessionMeta
from llmx.events.writer_lock import cut_torn_tail

SAMPLE = fixture_rollouts()[0]


def _copy(tmp_path: Path, name: str = "r.jsonl") -> Path:
    target = tmp_path / name
    shutil.copyfile(SAMPLE, target)
    return target


def test_reads_a_fixture_completely(tmp_path: Path) -> None:
    reader = RolloutReader(SAMPLE)
    lines = list(reader)
    assert len(lines) == reader.line_count == SAMPLE.read_bytes().count(b"\n")
    assert reader.problems == []
    assert reader.torn_tail is None
    assert reader.position == SAMPLE.stat().st_size
    assert lines[0].type == LineType.SESSION_META


def test_bad_lines_are_reported_by_number_and_skipped(tmp_path: Path) -> None:
    good = SAMPLE.read_bytes().splitlines(keepends=True)
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        good[0] + b"not json\n" + good[1] + b"\n" + b"[1,2]\n" + b'{"a":"\xff\xfe"}\n' + good[2]
    )
    before = path.read_bytes()
    reader = RolloutReader(path)
    lines = list(reader)
    assert [line.raw + b"\n" for line in lines] == good[:3]
    assert [(p.number, p.reason.split(" (")[0]) for p in reader.problems] == [
        (2, "not valid JSON"),
        (5, "a JSON list, not an object"),
        (6, "invalid UTF-8 at byte 6"),
    ]
    first = reader.problems[0]
    assert first.describe(path) == f"{path}:2: {first.reason}; the line is skipped"
    assert reader.problems[1].offset == len(good[0]) + len(b"not json\n") + len(good[1]) + 1
    assert path.read_bytes() == before  # reading never writes


def test_torn_tail_is_reported_not_yielded_and_cut_only_on_request(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    whole = path.read_bytes()
    last_start = whole.rstrip(b"\n").rfind(b"\n") + 1
    torn_bytes = whole[: last_start + 25]
    path.write_bytes(torn_bytes)
    reader = RolloutReader(path)
    lines = list(reader)
    assert len(lines) == whole.count(b"\n") - 1
    assert reader.torn_tail is not None
    assert reader.torn_tail.offset == last_start
    assert reader.torn_tail.length == 25
    assert reader.torn_tail.number == whole.count(b"\n")
    assert reader.problems == []
    assert find_torn_tail(path) == reader.torn_tail
    assert path.read_bytes() == torn_bytes
    assert cut_torn_tail(path) == reader.torn_tail
    assert path.read_bytes() == whole[:last_start]
    assert find_torn_tail(path) is None
    assert cut_torn_tail(path) is None


def test_catching_up_from_a_position(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    data = path.read_bytes()
    first = RolloutReader(path)
    head = [next(iter_) for iter_ in [iter(first)] for _ in range(1)]
    assert head[0].ordinal == 0
    half = data[: len(data) // 2]
    path.write_bytes(half)
    partial = RolloutReader(path)
    seen = list(partial)
    with path.open("ab") as handle:
        handle.write(data[len(half) :])
    rest = RolloutReader(path, start_offset=partial.position, first_line_number=len(seen) + 1)
    more = list(rest)
    assert [line.ordinal for line in seen + more] == list(range(data.count(b"\n")))
    assert rest.torn_tail is None


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.jsonl", "no such file"),
        (lambda p: p, "is a directory, not a rollout file"),
    ],
)
def test_unreadable_paths_raise_one_line_errors(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    target = make(tmp_path)
    with pytest.raises(RolloutFileError, match=message) as caught:
        list(RolloutReader(target))
    assert str(target) in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_file_without_read_permission(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    path.chmod(0)
    with pytest.raises(RolloutFileError, match="permission denied"):
        read_rollout(path)


def test_a_50_mb_line_is_reported_with_bounded_memory(tmp_path: Path) -> None:
    good = SAMPLE.read_bytes().splitlines(keepends=True)
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as handle:
        handle.write(good[0])
        handle.write(b'{"type":"event_msg","payload":{"type":"agent_message","message":"')
        handle.write(b"x" * (50 << 20))
        handle.write(b'"}}\n')
        handle.write(good[1])
    tracemalloc.start()
    reader = RolloutReader(path)
    lines = list(reader)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(lines) == 2
    assert [p.number for p in reader.problems] == [2]
    assert "longer than the" in reader.problems[0].reason
    # Oversized lines are skipped while streaming, never held whole.
    assert peak < reader.max_line_bytes + (8 << 20)


def test_an_empty_file_has_no_lines(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    reader = RolloutReader(path)
    assert list(reader) == []
    assert reader.line_count == 0
    assert reader.torn_tail is None


def test_typed_iteration_over_a_fixture() -> None:
    completes = [
        line.item() for line in RolloutReader(SAMPLE) if line.payload_type == "task_complete"
    ]
    assert completes
    assert all(isinstance(item, TaskComplete) for item in completes)


def test_each_line_decodes_its_typed_payload_once() -> None:
    lines = list(RolloutReader(SAMPLE))
    assert len(lines) == SAMPLE.read_bytes().count(b"\n")
    assert all(line.item() is line.item() for line in lines)
    assert isinstance(lines[0].item(), SessionMeta)
