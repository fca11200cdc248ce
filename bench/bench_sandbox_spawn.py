"""Cost of confining a command, from a running asyncio program and as a whole process.

Run: .venv/bin/python bench/bench_sandbox_spawn.py [--n 50] [--codex PATH]

1. In-session: an asyncio loop spawns ``true`` n times per backend (and unconfined),
   interleaved, through ``run_confined``; prints the median and p90 wall time per spawn
   and the overhead over unconfined.
2. Whole process: ``python -m ... exec_confined(true)`` (what ``llmx sandbox linux -- true``
   does after parsing arguments) against plain ``true`` and, if given, ``codex sandbox -- true``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from llmx.sandbox.linux import BackendKind
from llmx.sandbox.linux.backends import backend_status
from llmx.sandbox.linux.spawn import run_confined
from llmx.sandbox.plan import ConfinementPlan, WritableRoot

ENV = {"PATH": "/usr/bin:/bin"}


def _plan(root: Path, unconfined: bool = False) -> ConfinementPlan:
    return ConfinementPlan(unconfined=unconfined, env=ENV, writable_roots=(
        WritableRoot(root, (root / ".git", root / ".codex")), WritableRoot(Path("/tmp"))))


async def _in_session(n: int, root: Path) -> dict[str, list[float]]:
    """Round-robin over the backends, so that a change in the machine's load touches
    every series alike."""
    kinds: list[BackendKind | None] = [None]
    kinds += [k for k in (BackendKind.NAMESPACES, BackendKind.BWRAP)
              if backend_status(k).available]
    plans = {kind: _plan(root, unconfined=kind is None) for kind in kinds}
    timings: dict[str, list[float]] = {
        "unconfined" if kind is None else kind.value: [] for kind in kinds}
    for kind in kinds:  # warm caches
        await run_confined(["true"], cwd=root, plan=plans[kind], backend=kind)
    for _ in range(n):
        for kind in kinds:
            start = time.perf_counter()
            result = await run_confined(["true"], cwd=root, plan=plans[kind], backend=kind)
            elapsed = time.perf_counter() - start
            assert result.exit_code == 0, result.aggregated
            timings["unconfined" if kind is None else kind.value].append(elapsed)
    return timings


def _whole(argv: list[str], n: int, cwd: Path) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return samples


def _fmt(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(len(ordered) * 0.9) - 1]
    return f"median {statistics.median(samples) * 1000:6.2f} ms  p90 {p90 * 1000:6.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--codex", help="path of a codex binary to compare with")
    parser.add_argument("--in-session-only", action="store_true",
                        help="skip the whole-process series")
    args = parser.parse_args()
    print(f"kernel {os.uname().release}, {os.cpu_count()} cpus, Python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / ".git").mkdir()
        print(f"== in-session spawn of `true` (n={args.n})")
        timings = asyncio.run(_in_session(args.n, root))
        base = statistics.median(timings["unconfined"])
        for name, samples in timings.items():
            extra = (statistics.median(samples) - base) * 1000
            print(f"  {name:12s} {_fmt(samples)}  overhead {extra:+6.2f} ms")
        if args.in_session_only:
            return
        print(f"== whole process (n={args.n})")
        script = ("from pathlib import Path\n"
                  "from llmx.sandbox.linux.blocking import exec_confined\n"
                  "from llmx.sandbox.plan import ConfinementPlan, WritableRoot\n"
                  "root = Path.cwd()\n"
                  "exec_confined(['true'], cwd=root, plan=ConfinementPlan(env={'PATH': "
                  "'/usr/bin:/bin'}, writable_roots=(WritableRoot(root, (root / '.git',)),)))\n")
        rows = {"true": ["true"], "python exec_confined(true)": [sys.executable, "-c", script]}
        if args.codex:
            rows["codex sandbox -- true"] = [args.codex, "sandbox", "--", "true"]
        for name, argv in rows.items():
            print(f"  {name:28s} {_fmt(_whole(argv, args.n, root))}")


if __name__ == "__main__":
    main()
