"""Codex's Python SDK against ``llmx app-server`` and ``codex app-server``, side by side.

Run: ``.venv/bin/python bench/bench_app_server.py [--runs N] --codex PATH``.
One run: ``Codex(CodexConfig(codex_bin=...))`` (spawn and ``initialize``), then
``thread_start().run("say hi")`` against the loopback model server, to the finished turn;
the wall time of all that, and the server's peak RSS (``VmHWM`` of its process, read just
before the SDK closes it). The two series run alternately, round after round, each in a
home of its own (Codex's must not be under /tmp); each series' first run is discarded.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from openai_codex import ApprovalMode, Codex, CodexConfig  # noqa: E402
from support.model_scripts import Script  # noqa: E402
from support.model_server import ModelServer  # noqa: E402

SCRIPT = {"turns": [], "fallback": [{"type": "message", "text": "hi"}]}


def _config(home: Path, base_url: str) -> None:
    home.mkdir(mode=0o700, exist_ok=True)
    (home / "config.toml").write_text(
        'model = "mock-model"\nmodel_provider = "mock"\n[model_providers.mock]\nname = "mock"\n'
        f'base_url = "{base_url}"\nenv_key = "MOCK_API_KEY"\nwire_api = "responses"\n'
    )


def _peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_once(binary: str, home_var: str, home: Path, work: Path) -> tuple[float, float]:
    env = {home_var: str(home), "MOCK_API_KEY": "dummy"}
    started = time.perf_counter()
    codex = Codex(CodexConfig(codex_bin=binary, cwd=str(work), env=env))
    try:
        result = codex.thread_start(approval_mode=ApprovalMode.deny_all).run("say hi")
        wall = time.perf_counter() - started
        assert result.final_response == "hi", result
        proc = codex._client._proc
        assert proc is not None
        peak = _peak_mib(proc.pid)
    finally:
        codex.close()
    return wall, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--codex", required=True, help="the codex binary (0.169)")
    parser.add_argument("--llmx", default=str(Path(sys.executable).with_name("llmx")))
    args = parser.parse_args()
    series = {"llmx app-server": (args.llmx, "LLMX_HOME"),
              "codex app-server": (args.codex, "CODEX_HOME")}
    results: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in series}
    # Codex refuses a home under /tmp: both homes live beside this checkout.
    with ModelServer(Script.from_json(SCRIPT)) as server, \
            tempfile.TemporaryDirectory(dir=ROOT, prefix=".bench-") as scratch:
        root = Path(scratch)
        work = root / "work"
        work.mkdir()
        os.system(f"git init -q {work}")
        for name, (_, _) in series.items():
            _config(root / name.replace(" ", "-"), server.base_url)
        for index in range(args.runs + 1):
            for name, (binary, home_var) in series.items():
                wall, peak = run_once(binary, home_var, root / name.replace(" ", "-"), work)
                if index:
                    results[name][0].append(wall)
                    results[name][1].append(peak)
    for name, (walls, peaks) in results.items():
        print(f"{name}: initialize to finished 'say hi' median {statistics.median(walls):.3f} s "
              f"[{min(walls):.3f}-{max(walls):.3f}], server peak RSS median "
              f"{statistics.median(peaks):.1f} MiB [{min(peaks):.1f}-{max(peaks):.1f}], "
              f"n={len(walls)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
