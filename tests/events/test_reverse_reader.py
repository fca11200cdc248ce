"""Reading a rollout backwards (and raw lines forwards) with byte positions, on real files."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import CODEX_RICH_FIXTURES, fixture_rollouts

from llmx.events.raw_lines import (
    RawLine,
    first_line,
    line_ending_at,
    read_lines_backward,
    read_lines_forward,
)
from llmx.events.reader import RolloutFileError, RolloutReader
from llmx.events.reverse_reader import ReverseRolloutReader

ORIGINAL = CODEX_RICH_FIXTURES / "rollouts" / "fork_and_revert__original.rollout.jsonl"


@pytest.mark.parametrize("block_size", [1, 7, 4096, 1 << 20])
def test_readers_agree_on_every_fixture_line(block_size: int) -> None:
    data = ORIGINAL.read_bytes()
    forward = list(read_lines_forward(ORIGINAL, block_size=block_size))
    backward = list(read_lines_backward(ORIGINAL, block_size=block_size))
    assert forward == backward[::-1]
    assert [line.data for line in forward] == data.splitlines()
    assert all(data[line.start : line.end] == line.data + b"\n" for line in forward)
    last = forward[-1]
    assert line_ending_at(ORIGINAL, last.end) == last
    assert line_ending_at(ORIGINAL, last.end - 1) is None


def test_bounded_reads_stop_at_the_offset() -> None:
    lines = list(read_lines_forward(ORIGINAL))
    end = lines[9].end
    assert list(read_lines_forward(ORIGINAL, end=end)) == lines[:10]
    assert list(read_lines_backward(ORIGINAL, end=end)) == lines[:10][::-1]
    assert list(read_lines_forward(ORIGINAL, start=lines[5].start, end=end)) == lines[5:10]


@pytest.mark.parametrize("path", fixture_rollouts()[:12], ids=lambda p: p.name)
def test_reverse_reader_yields_what_the_forward_reader_does(path: Path) -> None:
    forward = RolloutReader(path)
    expected = [line.raw for line in forward]
    reverse = ReverseRolloutReader(path, block_size=4096)
    pairs = list(reverse)
    assert [line.raw for _raw, line in pairs] == expected[::-1]
    assert all(raw.data == line.raw for raw, line in pairs)
    assert reverse.problems == forward.problems == []
    assert reverse.torn_tail is None
    assert reverse.lines_read == path.read_bytes().count(b"\n")


def _damaged(tmp_path: Path) -> tuple[Path, list[bytes]]:
    lines = ORIGINAL.read_bytes().splitlines(keepends=True)[:8]
    lines[2] = b"{not json\n"
    lines[5] = b"[1, 2]\n"
    lines.insert(4, b"\n")
    path = tmp_path / "damaged.jsonl"
    path.write_bytes(b"".join(lines) + b'{"timestamp":"2026-11-21T05:')
    return path, lines


def test_problems_and_torn_tail_match_the_forward_reader(tmp_path: Path) -> None:
    path, lines = _damaged(tmp_path)
    forward = RolloutReader(path)
    forward_raws = [line.raw for line in forward]
    reverse = ReverseRolloutReader(path)
    assert [line.raw for _raw, line in reverse] == forward_raws[::-1]
    assert reverse.problems == forward.problems
    assert [problem.number for problem in reverse.problems] == [3, 7]
    assert reverse.torn_tail == forward.torn_tail
    assert reverse.torn_tail is not None
    assert reverse.torn_tail.number == len(lines) + 1
    assert reverse.torn_tail.offset == sum(len(line) for line in lines)
    assert path.read_bytes().endswith(b"05:")  # reading never repairs


def test_raw_lines_can_be_filtered_before_decoding_and_resumed(tmp_path: Path) -> None:
    path, _lines = _damaged(tmp_path)
    reader = ReverseRolloutReader(path)
    raws = reader.raw_lines()
    newest = next(raws)
    assert isinstance(newest, RawLine)
    assert reader.decode(newest) is not None
    # Only lines that mention a task are decoded; the corrupt ones never are.
    rest = [reader.decode(raw) for raw in raws if b"task_started" in raw.data]
    assert rest
    assert all(line is not None for line in rest)
    assert reader.problems == []
    assert reader.lines_read == path.read_bytes().count(b"\n") + 1


def test_end_offset_bounds_a_parent_span() -> None:
    lines = list(read_lines_forward(ORIGINAL))
    reader = ReverseRolloutReader(ORIGINAL, end_offset=lines[3].end)
    assert [raw.start for raw, _line in reader] == [line.start for line in lines[:4]][::-1]
    assert reader.torn_tail is None


def test_a_line_over_the_limit_is_reported_not_decoded(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    big = b'{"type":"event_msg","payload":{"type":"x","pad":"' + b"a" * 5000 + b'"}}\n'
    first = b'{"type":"event_msg","payload":{"type":"task_started","turn_id":"t"}}\n'
    path.write_bytes(first + big)
    reader = ReverseRolloutReader(path, max_line_bytes=4096)
    assert len(list(reader)) == 1
    assert [(p.number, p.offset) for p in reader.problems] == [(2, len(first))]
    assert "4096-byte limit" in reader.problems[0].reason


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing.jsonl", "no such file"),
        (lambda tmp: tmp, "is a directory"),
    ],
)
def test_unreadable_paths_raise_one_line_errors(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RolloutFileError, match=message):
        list(ReverseRolloutReader(make(tmp_path)))


def test_an_empty_file_has_no_lines(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    reader = ReverseRolloutReader(path)
    assert list(reader) == []
    assert reader.torn_tail is None
    assert reader.lines_read == 0


def test_the_first_line_is_given_only_when_complete(tmp_path: Path) -> None:
    """``first_line``: the ``session_meta`` readers (resume, fork, the otel export) take a
    rollout's first line from here; a line still being written is not one yet."""
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"")
    assert first_line(path) is None
    path.write_bytes(b'{"type":"session_meta"')
    assert first_line(path) is None
    long_meta = b'{"type":"session_meta","payload":"' + b"x" * 200_000 + b'"}'
    path.write_bytes(long_meta + b"\n{}\n")
    line = first_line(path, block_size=4096)
    assert line == RawLine(0, len(long_meta) + 1, long_meta, True)
    for fixture in fixture_rollouts():
        assert first_line(fixture) == next(read_lines_forward(fixture))


@pytest.mark.parametrize("block_size", [7, 64, 1 << 20])
def test_lines_over_the_limit_are_skipped_without_their_bytes(tmp_path: Path,
                                                              block_size: int) -> None:
    """``max_line_bytes``: a long line (within one block or across several, complete or
    torn) comes ``skipped``, with its place and no bytes; the lines around it are whole."""
    path = tmp_path / "r.jsonl"
    long_line = b"x" * 100
    path.write_bytes(b"a\n" + long_line + b"\n" + b"b" * 10 + b"\n" + long_line)
    lines = list(read_lines_forward(path, block_size=block_size, max_line_bytes=10))
    assert lines == [
        RawLine(0, 2, b"a", True),
        RawLine(2, 103, b"", True, skipped=True),
        RawLine(103, 114, b"b" * 10, True),
        RawLine(114, 214, b"", False, skipped=True),
    ]
    # Without a limit every line keeps its bytes.
    assert [line.data for line in read_lines_forward(path, block_size=block_size)] == [
        b"a", long_line, b"b" * 10, long_line]
