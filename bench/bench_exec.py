"""``llmx exec "say hi"`` against the loopback model server: wall time and peak RSS.

Run: ``.venv/bin/python bench/bench_exec.py [--runs N] [--codex PATH] [--llmx PATH ...]``.
Each run is a fresh process of the console script (``.venv/bin/llmx exec "say hi"``, what
a user runs) in a temporary home; the peak RSS is the child's ``ru_maxrss`` from
``wait4``, as is its CPU time (user + system). Two series per llmx: a fresh home per run
(the first run of a user, which creates the session index) and one home used by every
run (the usual case). With
``--codex``, the real Codex CLI runs the same script against the same server. Every
series runs once per round, round after round (interleaved), so all see the same load;
each series' first run is discarded (it warms the page cache). ``--llmx`` names other
llmx console scripts (another checkout's ``.venv/bin/llmx``) to compare with this one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
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


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float]:
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[0]} exited {os.waitstatus_to_exitcode(status)}")
    # CPU time (user + system) is steadier than wall time on a loaded machine.
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


@dataclass
class Series:
    name: str
    argv: list[str]
    home_var: str
    fresh_home: bool
    walls: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)

    def run_once(self, root: Path, work: Path, index: int, base_url: str) -> None:
        # A fresh home pays for creating its session index; a used one only updates it.
        slug = "".join(c if c.isalnum() or c in "._-" else "-" for c in self.name)
        home = root / (f"{slug}-{index}" if self.fresh_home else slug)
        _config(home, base_url)
        env = {**os.environ, self.home_var: str(home), "MOCK_API_KEY": "dummy"}
        wall, peak, cpu = _run(self.argv, work, env)
        if index:  # the first run warms the page cache
            self.walls.append(wall)
            self.peaks.append(peak)
            self.cpus.append(cpu)

    def report(self) -> str:
        walls, peaks = self.walls, self.peaks
        return (f"{self.name}: wall median {statistics.median(walls):.3f} s "
                f"[{min(walls):.3f}-{max(walls):.3f}], peak RSS median "
                f"{statistics.median(peaks):.1f} MiB [{min(peaks):.1f}-{max(peaks):.1f}], "
                f"CPU median {statistics.median(self.cpus):.3f} s, n={len(walls)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--codex", help="path of a codex binary to compare with")
    parser.add_argument("--llmx", action="append", default=[], metavar="PATH",
                        help="another llmx console script to time beside this checkout's")
    args = parser.parse_args()
    prompt = "say hi"
    series: list[Series] = []
    for index, llmx in enumerate([str(Path(sys.executable).parent / "llmx"), *args.llmx]):
        label = "llmx exec" if index == 0 else f"llmx exec ({llmx})"
        series.append(Series(f"{label}, used home", [llmx, "exec", prompt], "LLMX_HOME",
                             fresh_home=False))
        series.append(Series(f"{label}, fresh home", [llmx, "exec", prompt], "LLMX_HOME",
                             fresh_home=True))
    if args.codex:
        series.append(Series("codex exec", [args.codex, "exec", prompt], "CODEX_HOME",
                             fresh_home=False))
    with ModelServer(Script.from_json(SCRIPT)) as server, \
            tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        work = root / "project"
        work.mkdir()
        subprocess.run(["git", "init", "-q", str(work)], check=True)
        for index in range(args.runs + 1):
            for one in series:
                one.run_once(root, work, index, server.base_url)
    print(f"interleaved, load average at the end {os.getloadavg()[0]:.2f}")
    for one in series:
        print(one.report())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
