"""Whole-process start-up of the short llmx commands, beside the interpreter floor and Codex.

Every command is spawned ``--runs`` times, round-robin (so each sees the same machine
load), with stdout and stderr on /dev/null, from an empty working directory and an empty
``$LLMX_HOME``, with bytecode caches written (as an installed package has them).
Reported per command: median, min and p90 wall time, and the median CPU time (user +
system) of the process and its children.

Run: .venv/bin/python bench/bench_startup.py [--runs N] [--sessions N] [--codex PATH]
``--sessions`` (default 10,000) adds ``llmx sessions list --limit 20`` over that many
generated sessions (``bench_sessions.py``'s), with the index already built (warm).
``--codex`` (or ``$CODEX_BIN``) is a Codex CLI binary to time ``codex sandbox -- true``
against, e.g. the one ``npm i @openai/codex`` installs under
``node_modules/@openai/codex-linux-x64/vendor/*/bin/codex``. ``--baseline`` is the
``llmx`` console script of another checkout's virtualenv (say, of the commit before a
change), whose ``llmx sandbox linux -- true`` is timed in the same rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _spawn_once(argv: list[str], env: dict[str, str], cwd: str) -> tuple[float, float]:
    """Wall and CPU milliseconds of one run of ``argv``."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    here = os.getcwd()
    os.chdir(cwd)
    try:
        started = time.perf_counter()
        pid = os.posix_spawn(
            argv[0], argv, env,
            file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)],
        )
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - started
    finally:
        os.chdir(here)
        os.close(devnull)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)}: exit status {os.waitstatus_to_exitcode(status)}")
    return wall * 1000, (usage.ru_utime + usage.ru_stime) * 1000


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--codex", default=os.environ.get("CODEX_BIN"))
    parser.add_argument("--baseline", help="another checkout's .venv/bin/llmx")
    args = parser.parse_args()
    venv_bin = Path(sys.executable).parent
    llmx = str(venv_bin / "llmx")
    with tempfile.TemporaryDirectory() as tmp:
        home, cwd = Path(tmp, "home"), Path(tmp, "cwd")
        for folder in (home, cwd):
            folder.mkdir(mode=0o700)
        # Codex keeps its own home: under a temporary folder it refuses to set up the
        # helper its Linux sandbox re-executes.
        env = {**os.environ, "LLMX_HOME": str(home)}
        # An installed llmx has its bytecode compiled; with PYTHONDONTWRITEBYTECODE set, a
        # module edited since its last .pyc would be compiled again on every run, timing
        # the compiler. The warm-up run below writes the caches.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        true = "/bin/true" if os.path.exists("/bin/true") else "/usr/bin/true"
        commands: dict[str, list[str]] = {
            "true": [true],
            "python -c pass": [sys.executable, "-c", "pass"],
            "llmx --version": [llmx, "--version"],
            "llmx --help": [llmx, "--help"],
            "llmx sandbox linux -- true": [llmx, "sandbox", "linux", "--", "true"],
            "llmx sandbox linux --full-auto -- true": [
                llmx, "sandbox", "linux", "--full-auto", "--", "true"],
        }
        envs: dict[str, dict[str, str]] = {}  # a command's own environment, if not ``env``
        if args.sessions:
            from bench_sessions import _write_sessions

            sessions_home = Path(tmp, "sessions-home")
            _write_sessions(sessions_home, args.sessions)
            name = "llmx sessions list --limit 20 (warm)"
            commands[name] = [llmx, "sessions", "list", "--limit", "20"]
            envs[name] = {**env, "LLMX_HOME": str(sessions_home)}
            _spawn_once(commands[name], envs[name], str(cwd))  # builds the index
        if args.baseline:
            commands["baseline: llmx sandbox linux -- true"] = [
                args.baseline, "sandbox", "linux", "--", "true"]
        if args.codex:
            commands["codex sandbox -- true"] = [args.codex, "sandbox", "--", "true"]
        for name, argv in commands.items():  # warm the page cache; fail fast on a bad command
            _spawn_once(argv, envs.get(name, env), str(cwd))
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                wall, cpu = _spawn_once(argv, envs.get(name, env), str(cwd))
                walls[name].append(wall)
                cpus[name].append(cpu)
    print(f"runs: {args.runs} each, interleaved; load average {os.getloadavg()[0]:.2f}")
    print(f"{'command':<42} {'median':>8} {'min':>8} {'p90':>8} {'cpu':>8}  (ms)")
    for name in commands:
        print(f"{name:<42} {statistics.median(walls[name]):8.1f} {min(walls[name]):8.1f} "
              f"{_p90(walls[name]):8.1f} {statistics.median(cpus[name]):8.1f}")


if __name__ == "__main__":
    main()
