"""Cost of confining a command, from a running asyncio program and as a whole process.

Run: .venv/bin/python bench/bench_sandbox_spawn.py [--n 50] [--codex PATH]

1. In-session: an asyncio loop spawns ``true`` n times per series (unconfined; the own
   backend through the spawn server and forked from the loop's process, and through the
   server without the masks of missing metadata, to show their cost; bubblewrap),
   interleaved, through ``run_confined``; prints the median and p90 wall time per spawn
   and the overhead over unconfined. Then the first three commands of five fresh loops
   (the first ones start the spawn server, and are forked meanwhile).
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

from llmx.sandbox.linux.backends import BackendKind, backend_status
from llmx.sandbox.linux.spawn import run_confined, warm_up
from llmx.sandbox.plan import ConfinementPlan, WritableRoot
from llmx.sandbox.protected import protected_subpaths

ENV = {"PATH": "/usr/bin:/bin"}


def _plan(root: Path, unconfined: bool = False, masks: bool = True) -> ConfinementPlan:
    # What workspace-write gives: the workspace and /tmp, each with its .git, .agents and
    # .codex read-only (here all missing, so each is masked: the costliest case); without
    # ``masks``, the same roots with no carve-outs, to show what the masks cost.
    return ConfinementPlan(unconfined=unconfined, env=ENV, writable_roots=tuple(
        WritableRoot(path, protected_subpaths(path) if masks else ())
        for path in (root, Path("/tmp"))))


# One series per way of starting a command: (name, backend, through the spawn server).
Series = tuple[str, BackendKind | None, bool]


async def _in_session(n: int, root: Path, gap: float) -> dict[str, list[float]]:
    """Round-robin over the series, so that a change in the machine's load touches every
    series alike; ``gap`` seconds between two spawns (a session's commands come between
    model replies, not back to back)."""
    series: list[Series] = [("unconfined", None, False)]
    if backend_status(BackendKind.NAMESPACES).available:
        series += [("namespaces", BackendKind.NAMESPACES, True),
                   ("namespaces-no-masks", BackendKind.NAMESPACES, True),
                   ("namespaces-forked", BackendKind.NAMESPACES, False)]
    if backend_status(BackendKind.BWRAP).available:
        series.append(("bubblewrap", BackendKind.BWRAP, False))
    plans = {name: _plan(root, unconfined=kind is None, masks=not name.endswith("no-masks"))
             for name, kind, _ in series}
    timings: dict[str, list[float]] = {name: [] for name, _, _ in series}
    # The first command of a session starts the spawn server: measured apart (see main).
    assert await warm_up(), "the spawn server could not start"
    for name, kind, server in series:  # warm caches
        await run_confined(["true"], cwd=root, plan=plans[name], backend=kind,
                           spawn_server=server)
    for _ in range(n):
        for name, kind, server in series:
            if gap:
                await asyncio.sleep(gap)
            start = time.perf_counter()
            result = await run_confined(["true"], cwd=root, plan=plans[name], backend=kind,
                                        spawn_server=server)
            elapsed = time.perf_counter() - start
            assert result.exit_code == 0, result.aggregated
            timings[name].append(elapsed)
    return timings


async def _first_commands(root: Path) -> list[float]:
    """A fresh loop's first three confined commands (the server starts meanwhile)."""
    plan = _plan(root)
    samples = []
    for _ in range(3):
        start = time.perf_counter()
        await run_confined(["true"], cwd=root, plan=plan)
        samples.append(time.perf_counter() - start)
    return samples


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
    parser.add_argument("--gap", type=float, default=0.0,
                        help="seconds to sleep between two in-session spawns (default 0)")
    args = parser.parse_args()
    print(f"kernel {os.uname().release}, {os.cpu_count()} cpus, Python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / ".git").mkdir()
        print(f"== in-session spawn of `true` (n={args.n}, gap {args.gap * 1000:.0f} ms)")
        timings = asyncio.run(_in_session(args.n, root, args.gap))
        base = statistics.median(timings["unconfined"])
        for name, samples in timings.items():
            extra = (statistics.median(samples) - base) * 1000
            print(f"  {name:18s} {_fmt(samples)}  overhead {extra:+6.2f} ms")
        first = [asyncio.run(_first_commands(root)) for _ in range(5)]
        print("== first three confined commands of a fresh loop (ms, 5 loops): "
              + "; ".join(" / ".join(f"{t * 1000:.1f}" for t in row) for row in first))
        if args.in_session_only:
            return
        print(f"== whole process (n={args.n})")
        script = ("from pathlib import Path\n"
                  "from llmx.sandbox.linux.exec_in_place import exec_confined\n"
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
