"""History lookup at 1M entries: the offset index against a stdlib ``json`` line scan.

Run: .venv/bin/python bench/bench_history.py [--entries N] [--lookups N]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from llmx.events.history import HistoryFile


def _write_history(path: Path, entries: int) -> None:
    with path.open("wb") as out:
        batch = []
        for i in range(entries):
            text = f"prompt {i}: " + "refactor the parser and add tests " * (1 + i % 4)
            batch.append(json.dumps({"session_id": f"s-{i % 977}", "ts": i, "text": text}))
            if len(batch) == 10_000:
                out.write(("\n".join(batch) + "\n").encode())
                batch.clear()
        if batch:
            out.write(("\n".join(batch) + "\n").encode())


def _scan_lookup(path: Path, offset: int) -> dict[str, object] | None:
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f):
            if n == offset:
                parsed: dict[str, object] = json.loads(line)
                return parsed
    return None


def _percentiles(samples_ns: list[int]) -> str:
    ordered = sorted(samples_ns)
    p50 = ordered[len(ordered) // 2] / 1e6
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e6
    mean = statistics.fmean(ordered) / 1e6
    return f"p50 {p50:.3f} ms  p99 {p99:.3f} ms  mean {mean:.3f} ms  (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--scan-lookups", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.jsonl"
        _write_history(path, args.entries)
        print(f"history: {args.entries} entries, {path.stat().st_size / 1e6:.1f} MB")
        history = HistoryFile(path)

        started = time.perf_counter()
        meta = history.metadata()
        print(f"offset index build (first metadata call): {time.perf_counter() - started:.3f} s")
        assert meta.entry_count == args.entries

        samples = []
        for _ in range(args.lookups):
            n = rng.randrange(args.entries)
            t0 = time.perf_counter_ns()
            entry = history.lookup(meta.log_id, n)
            samples.append(time.perf_counter_ns() - t0)
            assert entry is not None
            assert entry.ts == n
        print("indexed lookup:      " + _percentiles(samples))

        history.append("s-new", "one more prompt")
        t0 = time.perf_counter_ns()
        assert history.lookup(0, args.entries) is not None
        print(f"lookup after append: {(time.perf_counter_ns() - t0) / 1e6:.3f} ms")

        scan_samples = []
        for _ in range(args.scan_lookups):
            n = rng.randrange(args.entries)
            t0 = time.perf_counter_ns()
            found = _scan_lookup(path, n)
            scan_samples.append(time.perf_counter_ns() - t0)
            assert found is not None
            assert found["ts"] == n
        print("json line-scan:      " + _percentiles(scan_samples))


if __name__ == "__main__":
    main()
