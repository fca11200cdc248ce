"""Decode throughput of a large rollout made of real Codex fixture lines.

Usage: ``python bench/bench_decode.py [--size-mb 100] [--repeat 3]``

Builds a rollout of about ``--size-mb`` MB by repeating every fixture line (ordinals
renumbered so the file is a plausible single rollout), then, each in a fresh
subprocess so peak RSS belongs to one measurement:

- ``json``: stdlib baseline, ``json.loads`` of every line;
- ``envelope``: ``RolloutReader`` (envelope decoded, payload kept raw);
- ``typed``: ``RolloutReader`` plus the typed payload of every line (``line.item()``).

Peak memory is measured at a tenth of the size as well, to show it does not grow with
the file (the reader streams).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def build_file(target: Path, size_mb: int) -> int:
    import msgspec
    from support import fixture_rollouts

    from llmx.events.lines import decode_line

    lines = [raw for path in fixture_rollouts() for raw in path.read_bytes().splitlines()]
    limit = size_mb * 1_000_000
    written = 0
    ordinal = 0
    encoder = msgspec.json.Encoder()
    with target.open("wb") as handle:
        while written < limit:
            for raw in lines:
                line = decode_line(raw)
                obj = {
                    "timestamp": line.timestamp,
                    "ordinal": ordinal,
                    "type": line.type,
                    "payload": msgspec.Raw(line.payload_raw),
                }
                data = encoder.encode(obj) + b"\n"
                handle.write(data)
                written += len(data)
                ordinal += 1
                if written >= limit:
                    break
    return written


def measure(mode: str, path: Path) -> dict[str, float]:
    size = path.stat().st_size
    start = time.perf_counter()
    count = 0
    if mode == "json":
        with path.open("rb") as handle:
            for raw in handle:
                json.loads(raw)
                count += 1
    else:
        from llmx.events.reader import RolloutReader

        reader = RolloutReader(path)
        if mode == "envelope":
            for _ in reader:
                count += 1
        else:
            for line in reader:
                line.item()
                count += 1
    elapsed = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "lines": count,
        "seconds": elapsed,
        "mb_per_s": size / 1e6 / elapsed,
        "peak_rss_mb": peak_kb / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--measure", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure[0], Path(args.measure[1]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.jsonl"
        small = Path(tmp) / "small.jsonl"
        build_file(big, args.size_mb)
        build_file(small, max(1, args.size_mb // 10))
        sizes = big.stat().st_size / 1e6, small.stat().st_size / 1e6
        print(f"file: {sizes[0]:.1f} MB; small: {sizes[1]:.1f} MB")
        for mode in ("json", "envelope", "typed"):
            runs = []
            for _ in range(args.repeat):
                out = subprocess.run(
                    [sys.executable, __file__, "--measure", mode, str(big)],
                    capture_output=True, text=True, check=True,
                ).stdout
                runs.append(json.loads(out))
            small_run = json.loads(
                subprocess.run(
                    [sys.executable, __file__, "--measure", mode, str(small)],
                    capture_output=True, text=True, check=True,
                ).stdout
            )
            best = max(runs, key=lambda r: r["mb_per_s"])
            print(
                f"{mode:9s} {best['mb_per_s']:7.1f} MB/s  {best['lines']:8d} lines "
                f"{best['seconds']:6.2f} s  peak RSS {best['peak_rss_mb']:.0f} MB "
                f"(at 1/10 size: {small_run['peak_rss_mb']:.0f} MB)"
            )


if __name__ == "__main__":
    main()
