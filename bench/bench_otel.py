"""What exporting to OpenTelemetry adds to a scripted ``llmx exec``: 20 model requests in
one run (19 shell commands, then the answer), with ``[otel]`` off and with OTLP/HTTP to
a receiver on loopback (tests/support/otlp_receiver.py), interleaved run by run.

Run: ``.venv/bin/python bench/bench_otel.py [--runs N] [--delay S] [--compare CHECKOUT]``.
``--delay`` makes the model server wait that many seconds before each answer (a model's
latency: longer runs, in which the export's fixed cost weighs less). Wall time
and the child's CPU time (user + system of it and the processes it waited for, from
``wait4``); each series' first run is discarded. ``--compare`` adds a third series: OTLP
on, run by another checkout's ``.venv/bin/llmx`` (another version of the code, interleaved
with this one).

The run gets a ``HOME`` of its own (an empty folder) unless ``--user-home`` is given: its
19 commands run in login shells (``bash -lc``), which read the home's shell profile, and
a profile that starts a version manager (``pyenv init`` here: ~130 ms of CPU per shell,
against ~4 ms) turns the run into a measure of that profile, keeping both cores busy.
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
from support.otlp_receiver import OtlpReceiver  # noqa: E402

REQUESTS = 20


def _script(delay: float) -> dict[str, object]:
    turns: list[object] = [{"items": [{"type": "shell", "command": f"echo step {n}"}],
                            "delay": delay} for n in range(REQUESTS - 1)]
    turns.append({"items": [{"type": "message", "text": "all steps done"}], "delay": delay})
    return {"turns": turns, "fallback": [{"type": "message", "text": "ok"}]}


def _home(root: Path, base_url: str, otel: str | None) -> Path:
    home = root / ("otel" if otel else "plain")
    home.mkdir(mode=0o700)
    section = ""
    if otel:
        exporter = f'{{ otlp-http = {{ endpoint = "{otel}", protocol = "binary" }} }}'
        section = f"[otel]\nexporter = {exporter}\nmetrics_exporter = {exporter}\n"
    (home / "config.toml").write_text(
        f'model = "mock-model"\nmodel_provider = "mock"\napproval_policy = "never"\n{section}'
        '[model_providers.mock]\nname = "mock"\n'
        f'base_url = "{base_url}"\nenv_key = "MOCK_API_KEY"\nwire_api = "responses"\n'
    )
    return home


def _run(home: Path, work: Path, root: Path = ROOT, *,
         user_home: Path | None = None) -> tuple[float, float]:
    env = dict(os.environ, LLMX_HOME=str(home), MOCK_API_KEY="x")
    if user_home is not None:
        env["HOME"] = str(user_home)
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(root / ".venv" / "bin" / "llmx"), "exec", "--skip-git-repo-check", "run the steps"],
        cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    assert process.stderr is not None
    errors = process.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0 or "otel:" in errors:
        raise SystemExit(f"exec failed or lost telemetry: {errors[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--compare", type=Path, default=None)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--user-home", action="store_true",
                        help="keep HOME, so the commands' login shells read its profile")
    args = parser.parse_args()
    series: dict[str, list[tuple[float, float]]] = {"off": [], "otlp-http": []}
    roots = {"off": ROOT, "otlp-http": ROOT}
    if args.compare is not None:
        series["otlp-http (compared)"] = []
        roots["otlp-http (compared)"] = args.compare.resolve()
    with tempfile.TemporaryDirectory() as tmp, OtlpReceiver() as receiver:
        root = Path(tmp)
        work = root / "work"
        work.mkdir()
        user_home = None
        if not args.user_home:
            user_home = root / "user-home"
            user_home.mkdir()
        for index in range(args.runs + 1):
            for name in series:
                # A fresh server per run: the script's 20 answers are used up by one run.
                with ModelServer(Script.from_json(_script(args.delay))) as server:
                    run_root = root / f"{name}-{index}"
                    run_root.mkdir()
                    home = _home(run_root, server.base_url,
                                 receiver.http_url if name != "off" else None)
                    result = _run(home, work, roots[name], user_home=user_home)
                if index:
                    series[name].append(result)
        spans = len(receiver.spans())
    home_said = "the user's HOME" if args.user_home else "HOME an empty folder"
    print(f"{REQUESTS} model requests per run ({args.delay:g} s before each answer), "
          f"{args.runs} runs per series (interleaved), {home_said}; spans received: {spans}")
    base_wall = statistics.median(wall for wall, _cpu in series["off"])
    base_cpu = statistics.median(cpu for _wall, cpu in series["off"])
    for name, runs in series.items():
        wall = statistics.median(w for w, _c in runs)
        cpu = statistics.median(c for _w, c in runs)
        wall_change = (wall / base_wall - 1) * 100
        cpu_change = (cpu / base_cpu - 1) * 100
        walls = sorted(w for w, _c in runs)
        print(f"{name:<22} wall median {wall * 1000:.0f} ms ({wall_change:+.1f}%; "
              f"{walls[0] * 1000:.0f}-{walls[-1] * 1000:.0f}), "
              f"CPU median {cpu * 1000:.0f} ms ({cpu_change:+.1f}%)")


if __name__ == "__main__":
    main()
