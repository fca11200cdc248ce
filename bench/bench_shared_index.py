"""The shared session index on PostgreSQL: ``llmx sessions sync`` of 10,000 sessions (the
generator of bench_sessions.py), re-runs with nothing new, and ``sessions list --limit
20`` / ``sessions search`` over the shared index, named by ``--index-url`` and by
``[index] url`` in config.toml; whole-process wall times and the child's CPU.

The server is started as the tests start theirs (initdb into a temporary folder, pg_ctl on
a loopback port; as the postgres user when run as root). Needs PostgreSQL's binaries and
the "postgres" extra. Run: .venv/bin/python bench/bench_shared_index.py [--sessions N]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from gen_rollout import write_small_sessions
from support.postgres import running_server


def _timed(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, the child's CPU seconds, and its stdout."""
    before = os.times()
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "llmx", *args], env=env, check=True,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system)
    return wall, cpu, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with running_server() as server, tempfile.TemporaryDirectory() as tmp:
        url = server.url()
        home = Path(tmp) / "home"
        write_small_sessions(home, args.sessions, lambda i: f"/home/dev/p{i % 5}")
        env = dict(os.environ, LLMX_HOME=str(home))
        sync, sync_cpu, out = _timed(["sessions", "sync", "--index-url", url], env)
        print(out.strip())
        resync = [_timed(["sessions", "sync", "--index-url", url], env)
                  for _ in range(args.runs)]
        print(resync[0][2].strip())
        reader = dict(os.environ, LLMX_HOME=str(Path(tmp) / "reader"))
        listing = [_timed(["sessions", "list", "--limit", "20", "--index-url", url], reader)
                   for _ in range(args.runs)]
        configured = Path(tmp) / "configured"
        configured.mkdir()
        (configured / "config.toml").write_text(f'model = "gpt-5.5"\n[index]\nurl = "{url}"\n')
        in_config = dict(os.environ, LLMX_HOME=str(configured))
        listing_config = [_timed(["sessions", "list", "--limit", "20"], in_config)
                          for _ in range(args.runs)]
        search = [_timed(["sessions", "search", "number 4242", "--index-url", url], reader)
                  for _ in range(args.runs)]
        local = [_timed(["sessions", "list", "--limit", "20"], env) for _ in range(args.runs)]
    print(f"sessions: {args.sessions}")
    print(f"sync (all new)        {sync:.2f} s wall, {sync_cpu:.2f} s CPU of llmx")
    for name, runs in (("sync (nothing new)", resync),
                       ("list --limit 20 (shared)", listing),
                       ("list --limit 20 ([index] url)", listing_config),
                       ("search (shared)", search),
                       ("list --limit 20 (sqlite, warm)", local)):
        walls = [wall for wall, _cpu, _out in runs]
        cpus = [cpu for _wall, cpu, _out in runs]
        print(f"{name:<30} median {statistics.median(walls) * 1000:.0f} ms wall "
              f"(min {min(walls) * 1000:.0f}), {statistics.median(cpus) * 1000:.0f} ms CPU "
              f"(n={len(runs)})")


if __name__ == "__main__":
    main()
