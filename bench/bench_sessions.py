"""``llmx sessions list --limit 20`` with 10,000 sessions: whole-process wall time.

Cold: no index yet (state.sqlite deleted). Warm: the index exists and the folders did not
change. Run: .venv/bin/python bench/bench_sessions.py [--sessions N] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from llmx.events.home import rollout_path_for, session_index_db_path


def _write_sessions(home: Path, count: int) -> None:
    base = datetime(2026, 3, 1, 9, 0, 0)
    epoch = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    instructions = "You are a coding agent. " * 400  # a realistic ~10 KB session_meta line
    for i in range(count):
        thread_id = str(uuid.uuid4())
        started = base + timedelta(minutes=i)
        path = rollout_path_for(home, thread_id, started)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = started.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        lines = [
            {"timestamp": stamp, "type": "session_meta", "payload": {
                "id": thread_id, "timestamp": stamp, "cwd": f"/home/dev/p{i % 5}",
                "cli_version": "0.169.0", "source": "cli", "model_provider": "openai",
                "base_instructions": {"text": instructions}}},
            {"timestamp": stamp, "type": "turn_context", "payload": {
                "cwd": f"/home/dev/p{i % 5}", "approval_policy": "on-request",
                "sandbox_policy": {"type": "workspace-write"}, "model": "gpt-5.5"}},
            {"timestamp": stamp, "type": "event_msg", "payload": {
                "type": "user_message", "message": f"fix failing test number {i}"}},
            {"timestamp": stamp, "type": "event_msg", "payload": {
                "type": "agent_message", "message": "Done. " * 50}},
            {"timestamp": stamp, "type": "event_msg", "payload": {
                "type": "token_count", "info": {"total_token_usage": {"total_tokens": 1234}}}},
        ]
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        os.utime(path, (epoch + i, epoch + i))


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
