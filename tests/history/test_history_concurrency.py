"""history.jsonl under real concurrent processes: no lost, torn or interleaved entries."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest
from support.waits import WAIT_SECONDS

from llmx.events.history import HistoryConfig, HistoryFile

_WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from llmx.events.history import HistoryConfig, HistoryFile

    path, worker, count, max_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    history = HistoryFile(Path(path), HistoryConfig(max_bytes=max_bytes or None))
    for i in range(count):
        history.append(f"worker-{worker}", f"{worker}:{i}:" + "x" * (i % 37), ts=i)
    """
)


def _run_workers(path: Path, workers: int, count: int, max_bytes: int = 0) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(path), str(w), str(count), str(max_bytes)],
            stderr=subprocess.PIPE,
        )
        for w in range(workers)
    ]
    failures = []
    for proc in procs:
        _, err = proc.communicate(timeout=WAIT_SECONDS)
        if proc.returncode != 0:
            failures.append(err.decode(errors="replace"))
    assert not failures, failures[0]


def _parsed_lines(path: Path) -> list[dict[str, object]]:
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    return [json.loads(line) for line in raw[:-1].split(b"\n")]


@pytest.mark.slow
def test_eight_processes_append_sixteen_thousand_intact_lines(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    _run_workers(path, workers=8, count=2000)
    entries = _parsed_lines(path)
    assert len(entries) == 16_000
    seen: dict[str, list[int]] = defaultdict(list)
    for entry in entries:
        worker, index, padding = str(entry["text"]).split(":")
        assert entry["session_id"] == f"worker-{worker}"
        assert padding == "x" * (int(index) % 37)
        seen[worker].append(int(index))
    # Each process's entries are all there, once, in the order it appended them.
    assert dict(seen) == {str(w): list(range(2000)) for w in range(8)}
    # The offset index kept up with every append: lookups match the file line by line.
    history = HistoryFile(path)
    meta = history.metadata()
    assert meta.entry_count == 16_000
    for n in (0, 1, 7_999, 15_999):
        found = history.lookup(meta.log_id, n)
        assert found is not None
        assert found.text == entries[n]["text"]


@pytest.mark.slow
def test_trimming_under_concurrency_keeps_whole_newest_lines(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    max_bytes = 20_000
    _run_workers(path, workers=4, count=600, max_bytes=max_bytes)
    assert path.stat().st_size <= max_bytes
    entries = _parsed_lines(path)
    per_worker: dict[str, list[int]] = defaultdict(list)
    for entry in entries:
        worker, index, _ = str(entry["text"]).split(":")
        per_worker[worker].append(int(index))
    # What survives of each writer is a contiguous newest run ending at its last append.
    for indexes in per_worker.values():
        assert indexes == list(range(indexes[0], 600))
    assert not list(tmp_path.glob("*.tmp.*"))
    history = HistoryFile(path, HistoryConfig(max_bytes=max_bytes))
    meta = history.metadata()
    assert meta.entry_count == len(entries)
    last = history.lookup(meta.log_id, meta.entry_count - 1)
    assert last is not None
    assert last.text == entries[-1]["text"]
