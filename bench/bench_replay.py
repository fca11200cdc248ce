"""Replay throughput: ``llmx replay`` of a ~100 MB rollout to /dev/null (human and --json).

The rollout comes from the shared generator (``gen_rollout.py``), repeating the turns of a
rich fixture session (apply_patch, commands, messages) with fresh ids and running ordinals.
Usage: ``.venv/bin/python bench/bench_replay.py [MB] [--repeat N]``; the best of N runs
is reported per mode.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from gen_rollout import generate_rollout  # noqa: E402  (a sibling script, not a package)

# The Codex fixtures kept in the repository (tests/fixtures/README.md).
SOURCE = (
    ROOT / "tests" / "fixtures" / "codex-rich" / "rollouts"
    / "apply_patch_add_update_delete_human.rollout.jsonl"
)


def replay_seconds(path: Path, mode: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "llmx", "replay", *mode, str(path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, cwd=ROOT,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("megabytes", nargs="?", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rollout-big.jsonl"
        generated = generate_rollout(path, args.megabytes * 1_000_000, source=SOURCE)
        size = generated.size
        print(f"{size / 1e6:.1f} MB, {generated.lines} lines, {generated.turns} turns")
        for mode in ([], ["--json"]):
            elapsed = min(replay_seconds(path, mode) for _ in range(args.repeat))
            label = "--json" if mode else "human"
            rate = size / 1e6 / elapsed
            print(f"{label:6} {size / 1e6:.1f} MB in {elapsed:.2f} s: {rate:.1f} MB/s")


if __name__ == "__main__":
    main()
