"""``llmx sessions list --limit 20`` with 10,000 sessions: whole-process wall time.

Cold: no index yet (state.sqlite deleted). Warm: the index exists and the folders did not
change. Run: .venv/bin/python bench/bench_sessions.py [--sessions N] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from llmx.events.home import session_index_db_path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_rollout import write_small_sessions


def _write_sessions(home: Path, count: int) -> None:
    write_small_sessions(home, count, lambda i: f"/home/dev/p{i % 5}")


def _run(home: Path) -> float:
    env = dict(os.environ, LLMX_HOME=str(home))
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "llmx", "sessions", "list", "--limit", "20"],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def _drop_index(home: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{session_index_db_path(home)}{suffix}").unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        _write_sessions(home, args.sessions)
        cold = []
        for _ in range(args.runs):
            _drop_index(home)
            cold.append(_run(home))
        warm = [_run(home) for _ in range(args.runs * 4)]
        env = dict(os.environ, LLMX_HOME=str(home))
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "llmx", "sessions", "reindex"], env=env,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        reindex = time.perf_counter() - started
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "llmx", "sessions", "search", "number 4242"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        search = time.perf_counter() - started
    print(f"sessions: {args.sessions}")
    print(f"cold (no index)  median {statistics.median(cold) * 1000:.0f} ms  "
          f"max {max(cold) * 1000:.0f} ms  (n={len(cold)})")
    print(f"warm             median {statistics.median(warm) * 1000:.0f} ms  "
          f"max {max(warm) * 1000:.0f} ms  (n={len(warm)})")
    print(f"reindex (all files folded) {reindex:.2f} s; search after it {search * 1000:.0f} ms")


if __name__ == "__main__":
    main()
