"""``llmx rollout check`` as a user runs it: a real subprocess on real files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from support import PROJECT_ROOT, fixture_rollouts
from support.waits import WAIT_SECONDS

from llmx.events.outputs import blob_dir
from llmx.events.writer_lock import lock_for_writing

SAMPLE = fixture_rollouts()[0]


def _llmx(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmx", "rollout", "check", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
        timeout=WAIT_SECONDS,
    )


def test_every_fixture_checks_clean() -> None:
    paths = [str(p) for p in fixture_rollouts()]
    result = _llmx("--json", *paths)
    assert result.returncode == 0, result.stderr
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"] for r in reports] == paths
    for report, path in zip(reports, fixture_rollouts(), strict=True):
        assert report["ok"]
        assert report["lines"] == path.read_bytes().count(b"\n")
        assert sum(report["types"].values()) == report["lines"]
        assert report["unknown_types"] == {}
        assert report["unparseable"] == []
        assert report["torn_tail"] is None


def test_human_report_counts_types() -> None:
    result = _llmx(str(SAMPLE))
    assert result.returncode == 0
    line = result.stdout.strip()
    count = SAMPLE.read_bytes().count(b"\n")
    assert line.startswith(f"{SAMPLE}: {count} lines (event_msg ")
    assert line.endswith("; ok")


def test_unparseable_lines_exit_1_and_are_named(tmp_path: Path) -> None:
    good = SAMPLE.read_bytes().splitlines(keepends=True)
    path = tmp_path / "bad.jsonl"
    path.write_bytes(good[0] + b"{oops\n" + good[1] + b"[]\n")
    before = path.read_bytes()
    result = _llmx(str(path))
    assert result.returncode == 1
    assert "unparseable lines: 2, 4" in result.stdout
    errors = result.stderr.splitlines()
    assert errors[0].startswith(f"{path}:2: not valid JSON")
    assert errors[1] == f"{path}:4: a JSON list, not an object; the line is skipped"
    assert path.read_bytes() == before


def test_unknown_types_are_listed(tmp_path: Path) -> None:
    path = tmp_path / "new.jsonl"
    shutil.copyfile(SAMPLE, path)
    count = SAMPLE.read_bytes().count(b"\n")
    with path.open("ab") as handle:
        handle.write(
            b'{"timestamp":"t","ordinal":%d,"type":"inter_agent_communication","payload":{}}\n'
            b'{"timestamp":"t","ordinal":%d,"type":"event_msg","payload":{"type":"hook_started"}}\n'
            % (count, count + 1)
        )
    result = _llmx("--json", str(path))
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["unknown_types"] == {"event_msg/hook_started": 1, "inter_agent_communication": 1}


def test_a_one_line_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    path.write_bytes(SAMPLE.read_bytes().split(b"\n")[0] + b"\n")
    result = _llmx(str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{path}: 1 line (session_meta 1); ok\n"


def test_torn_tail_is_reported_and_repair_cuts_only_it(tmp_path: Path) -> None:
    good = SAMPLE.read_bytes()
    path = tmp_path / "torn.jsonl"
    body = good + b"{not json at all\n"
    path.write_bytes(body + b'{"timestamp":"2026-')
    result = _llmx(str(path))
    assert result.returncode == 1  # the unparseable line, not the torn tail
    assert "torn final line" in result.stdout
    assert "run with --repair" in result.stdout
    assert path.read_bytes().endswith(b'{"timestamp":"2026-')
    repaired = _llmx("--repair", "--json", str(path))
    report = json.loads(repaired.stdout)
    assert report["torn_tail"]["cut"] is True
    assert report["torn_tail"]["bytes"] == len(b'{"timestamp":"2026-')
    # The bad line in the middle is reported, never removed.
    assert path.read_bytes() == body
    again = _llmx("--json", str(path))
    assert json.loads(again.stdout)["torn_tail"] is None


def test_missing_file_and_directory_are_one_line_errors(tmp_path: Path) -> None:
    result = _llmx(str(tmp_path / "missing.jsonl"), str(tmp_path), str(SAMPLE))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"llmx rollout check: {tmp_path / 'missing.jsonl'}: no such file — check the path",
        f"llmx rollout check: {tmp_path}: is a directory, not a rollout file — "
        "pass a .jsonl file",
    ]
    # The good file is still checked and reported.
    assert result.stdout.startswith(f"{SAMPLE}: ")


def test_a_50_mb_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    good = SAMPLE.read_bytes().splitlines(keepends=True)
    with path.open("wb") as handle:
        handle.write(good[0])
        handle.write(b'{"type":"event_msg","payload":{"message":"')
        handle.write(b"x" * (50 << 20) + b'"}}\n')
    size = path.stat().st_size
    result = _llmx(str(path))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{path}:2: line of ")
    assert "-byte limit; the line is skipped" in result.stderr
    assert path.stat().st_size == size


def test_repeated_and_missing_ordinals_fail_the_check(tmp_path: Path) -> None:
    """What two writers (repeats) or lost lines (a gap) leave behind is named."""
    lines = SAMPLE.read_bytes().splitlines(keepends=True)
    count = len(lines)
    path = tmp_path / "two_writers.jsonl"
    # Lines 3-4 written again by a second writer; the last line's ordinal jumps by 3.
    extra = b'{"timestamp":"t","ordinal":%d,"type":"event_msg","payload":{"type":"x"}}\n'
    path.write_bytes(b"".join([*lines, extra % 3, extra % 4, extra % (count + 3)]))
    result = _llmx(str(path))
    assert result.returncode == 1
    assert "repeated ordinals: 3, 4 (a second writer?)" in result.stdout
    assert f"missing ordinals: {count}-{count + 2} (3 in all)" in result.stdout
    report = json.loads(_llmx("--json", str(path)).stdout)
    assert report["ok"] is False
    assert report["ordinals"]["repeated"] == [3, 4]
    assert report["ordinals"]["missing"] == [[count, count + 2]]


def test_codex_continuing_after_llmx_own_lines_is_no_second_writer(tmp_path: Path) -> None:
    """Codex numbers what it appends from the last line it knows: after llmx's own
    trailing lines its first lines repeat their ordinals, which is no second writer; a
    repeat that does not continue Codex's numbering still is one."""
    lines = SAMPLE.read_bytes().splitlines(keepends=True)
    count = len(lines)
    own = (b'{"timestamp":"t","ordinal":%d,"type":"submission",'
           b'"payload":{"id":"s","op":{"type":"shutdown"}}}\n')
    codex = b'{"timestamp":"t","ordinal":%d,"type":"event_msg","payload":{"type":"x"}}\n'
    path = tmp_path / "continued_by_codex.jsonl"
    path.write_bytes(b"".join([*lines, own % count, own % (count + 1),
                               codex % count, codex % (count + 1), codex % (count + 2)]))
    report = json.loads(_llmx("--json", str(path)).stdout)
    assert report["ok"] is True, report
    assert report["ordinals"]["renumbered_count"] == 2
    assert report["ordinals"]["repeated_count"] == 0
    # The same repeats written after a Codex line are a second writer's.
    path.write_bytes(b"".join([*lines, codex % count, codex % (count + 1),
                               codex % count, codex % (count + 1)]))
    report = json.loads(_llmx("--json", str(path)).stdout)
    assert report["ok"] is False
    assert report["ordinals"]["repeated"] == [count, count + 1]


def test_a_fork_starting_past_zero_is_in_order() -> None:
    from support import CODEX_RICH_FIXTURES

    fork = CODEX_RICH_FIXTURES / "rollouts" / "fork_and_revert__full_fork.rollout.jsonl"
    report = json.loads(_llmx("--json", str(fork)).stdout)
    assert report["ok"]
    assert report["ordinals"]["first"] > 0
    assert report["ordinals"]["missing_count"] == 0


def test_the_guide_and_the_help_say_what_check_does() -> None:
    guide = (PROJECT_ROOT / "docs" / "cli" / "rollout.md").read_text(encoding="utf-8")
    # The guide's example is the check of the checked-in sample, as it prints today.
    command = "$ llmx rollout check examples/sample.rollout.jsonl\n"
    shown = guide[guide.index(command) + len(command):].split("\n", 1)[0]
    result = _llmx("examples/sample.rollout.jsonl")
    assert result.returncode == 0, result.stderr
    assert result.stdout == shown + "\n"
    # --help names everything that fails the check (ordinals too) and what --repair does.
    help_text = " ".join(_llmx("--help").stdout.split())
    assert ("Exit status 1 when a file cannot be read, has an unparseable line or a repeated "
            "or missing ordinal, or a --repair was refused.") in help_text
    assert "refused while a writer holds the file" in help_text


def test_partial_blobs_a_killed_writer_left_are_reported_and_removed_by_repair(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rollout-partial.jsonl"
    shutil.copyfile(SAMPLE, path)
    blobs = blob_dir(path)
    blobs.mkdir()
    whole = blobs / ("a" * 64)
    whole.write_bytes(b"a whole output")
    partial = blobs / f".{'b' * 64}.4242.partial"
    partial.write_bytes(b"half an outp")
    before = path.read_bytes()

    checked = _llmx(str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert ("1 partial output blobs left by a killed writer (run with --repair to remove "
            "them)") in checked.stdout
    assert partial.exists()

    # A live writer's partial blob is a blob being written: not counted, never removed.
    fd = os.open(path, os.O_RDWR)
    try:
        lock_for_writing(fd, path, wait=False)
        live = _llmx("--repair", "--json", str(path))
        assert json.loads(live.stdout)["partial_blobs"] == {"count": 0, "removed": False}
        assert partial.exists()
    finally:
        os.close(fd)

    repaired = _llmx("--repair", "--json", str(path))
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert json.loads(repaired.stdout)["partial_blobs"] == {"count": 1, "removed": True}
    assert not partial.exists()
    assert whole.read_bytes() == b"a whole output"
    assert path.read_bytes() == before
