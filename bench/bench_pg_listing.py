"""The shared listing's start-up by psycopg build: ``import psycopg`` (its cumulative time
by ``python -X importtime``) and ``llmx sessions list --limit 20 --index-url URL``
(whole-process wall time and the child's CPU), run interleaved, one variant after the
other in each round, against one server (started as the tests start theirs).

A variant is ``NAME=PYTHON`` with optional ``,VAR=VALUE`` environment settings: an
interpreter whose environment has llmx and a psycopg build installed. Without
``--variant``: this interpreter with psycopg's own choice (``binary`` where
psycopg-binary is installed) and with ``PSYCOPG_IMPL=python`` (the pure-Python build over
the system's libpq). A variant with psycopg's C build needs an environment of its own
(``pip install "psycopg[c]"``, which compiles it against ``pg_config``'s libpq).

Run: .venv/bin/python bench/bench_pg_listing.py [--runs 10] [--sessions 2000]
     [--variant c=/path/to/venv-c/bin/python]
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


def _variant(text: str) -> tuple[str, str, dict[str, str]]:
    name, _, rest = text.partition("=")
    python, *settings = rest.split(",")
    if not name or not python:
        raise SystemExit(f"bench_pg_listing: a variant is NAME=PYTHON[,VAR=VALUE...], "
                         f"not {text!r}")
    extra = dict(setting.split("=", 1) for setting in settings)
    return name, python, extra


def _import_ms(python: str, env: dict[str, str]) -> tuple[float, str]:
    """The cumulative import time of psycopg (ms) and the libpq wrapper it loaded."""
    done = subprocess.run(
        [python, "-X", "importtime", "-c", "import psycopg; print(psycopg.pq.__impl__)"],
        env=env, check=True, capture_output=True, text=True)
    [last] = [line for line in done.stderr.splitlines() if line.rstrip().endswith("| psycopg")]
    return int(last.split("|")[1]) / 1000, done.stdout.strip()


def _listing(python: str, url: str, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU milliseconds of one ``sessions list`` over the shared index."""
    before = os.times()
    started = time.perf_counter()
    subprocess.run([python, "-m", "llmx", "sessions", "list", "--limit", "20",
                    "--index-url", url], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system)
    return wall * 1000, cpu * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--variant", action="append", type=_variant, default=[])
    args = parser.parse_args()
    variants = args.variant or [("auto", sys.executable, {}),
                                ("python", sys.executable, {"PSYCOPG_IMPL": "python"})]
    results: dict[str, dict[str, list[float]]] = {
        name: {"import": [], "wall": [], "cpu": []} for name, _, _ in variants}
    loaded: dict[str, str] = {}
    loads: list[float] = []
    with running_server() as server, tempfile.TemporaryDirectory() as tmp:
        url = server.url()
        home = Path(tmp) / "home"
        write_small_sessions(home, args.sessions, lambda i: f"/home/dev/p{i % 5}")
        subprocess.run([sys.executable, "-m", "llmx", "sessions", "sync", "--index-url", url],
                       env=dict(os.environ, LLMX_HOME=str(home)), check=True,
                       capture_output=True)
        reader = Path(tmp) / "reader"
        for _ in range(args.runs):
            loads.append(os.getloadavg()[0])
            for name, python, extra in variants:
                env = dict(os.environ, LLMX_HOME=str(reader), **extra)
                imported, loaded[name] = _import_ms(python, env)
                wall, cpu = _listing(python, url, env)
                results[name]["import"].append(imported)
                results[name]["wall"].append(wall)
                results[name]["cpu"].append(cpu)
    print(f"sessions: {args.sessions}, rounds: {args.runs}, "
          f"load average (1 min) {min(loads):.2f}-{max(loads):.2f}")
    for name, figures in results.items():
        print(f"{name:<8} ({loaded[name]}) import psycopg median "
              f"{statistics.median(figures['import']):.0f} ms (min {min(figures['import']):.0f})"
              f"; list median {statistics.median(figures['wall']):.0f} ms wall "
              f"(min {min(figures['wall']):.0f}), {statistics.median(figures['cpu']):.0f} ms CPU")


if __name__ == "__main__":
    main()
