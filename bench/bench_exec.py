"""``llmx exec "say hi"`` against the loopback model server: wall time and peak RSS.

Run: ``.venv/bin/python bench/bench_exec.py [--runs N] [--codex PATH]``. Each run is a
fresh process (``python -m llmx exec``) in a temporary home; the peak RSS is the child's
``ru_maxrss`` from ``wait4``. Two series: a fresh home per run (the first run of a user,
which creates the session index) and one home used by every run (the usual case). With
``--codex``, the real Codex CLI runs the same script against the same server for
comparison.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.model_scripts import Script  # noqa: E402
from support.model_server import ModelServer  # noqa: E402

SCRIPT = {"turns": [], "fallback": [{"type": "message", "text": "hi"}]}


def _config(home: Path, base_url: str) -> None:
    home.mkdir(mode=0o700, exist_ok=True)
    (home / "config.toml").write_text(
        'model = "mock-model"\nmodel_provider = "mock"\n[model_providers.mock]\nname = "mock"\n'
        f'base_url = "{base_url}"\nenv_key = "MOCK_API_KEY"\nwire_api = "responses"\n'
    )


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[0]} exited {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_maxrss / 1024


def _series(
    name: str, argv: list[str], runs: int, base_url: str, home_var: str, *, fresh_home: bool = True
) -> None:
    walls: list[float] = []
    peaks: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        work = root / "project"
        work.mkdir()
        subprocess.run(["git", "init", "-q", str(work)], check=True)
        for index in range(runs + 1):
            # A fresh home pays for creating its session index; a used one only updates it.
            home = root / (f"home{index}" if fresh_home else "home")
            _config(home, base_url)
            env = {**os.environ, home_var: str(home), "MOCK_API_KEY": "dummy"}
            wall, peak = _run(argv, work, env)
            if index:  # the first run warms the page cache
                walls.append(wall)
                peaks.append(peak)
    print(f"{name}: wall median {statistics.median(walls):.3f} s "
          f"[{min(walls):.3f}-{max(walls):.3f}], peak RSS median "
          f"{statistics.median(peaks):.1f} MiB [{min(peaks):.1f}-{max(peaks):.1f}], n={runs}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--codex", help="path of a codex binary to compare with")
    args = parser.parse_args()
    with ModelServer(Script.from_json(SCRIPT)) as server:
        argv = [sys.executable, "-m", "llmx", "exec", "say hi"]
        _series("llmx exec, fresh home", argv, args.runs, server.base_url, "LLMX_HOME")
        _series("llmx exec, used home", argv, args.runs, server.base_url, "LLMX_HOME",
                fresh_home=False)
        if args.codex:
            _series("codex exec", [args.codex, "exec", "say hi"], args.runs, server.base_url,
                    "CODEX_HOME")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
