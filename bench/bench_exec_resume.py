"""``llmx exec resume`` as a whole process: wall time and peak RSS.

Cases, each against the loopback model server (``tests/support/model_server.py`` run as a
process, answering every request with one message):
- ``exec resume ID "hi"`` on a ~100 MB rollout without compaction, and with a compaction
  1 MB before its end (``gen_rollout.py``). Every run starts from a fresh home (no
  session index yet) holding a fresh copy of the rollout, so each run is a first run;
  the copy is made before the clock starts, so the page cache is warm.
- ``exec resume --last "hi"`` among 10,000 small sessions (as ``bench_sessions.py``
  writes them, a fifth of them in the directory resumed from): the first run without a
  session index, then runs with it.

With ``--codex PATH`` the real Codex CLI runs the same cases on copies of the same files
(``CODEX_HOME``), first and second run in the same home.

Run: .venv/bin/python bench/bench_exec_resume.py [--megabytes 100] [--runs 3]
     [--sessions 10000] [--codex PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from gen_rollout import generate_rollout, write_small_sessions  # noqa: E402

from llmx.events.home import rollout_path_for, session_index_db_path  # noqa: E402

SCRIPT = {"turns": [], "fallback": [{"type": "message", "text": "hi"}]}
STARTED = datetime(2026, 11, 21, 5, 25, 5)


@dataclass(frozen=True)
class Run:
    wall_s: float
    peak_mib: float


@dataclass
class ModelServerProcess:
    process: subprocess.Popen[bytes]
    base_url: str

    @classmethod
    def start(cls, scratch: Path) -> ModelServerProcess:
        script = scratch / "script.json"
        script.write_text(json.dumps(SCRIPT))
        port_file = scratch / "port"
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "support" / "model_server.py"),
             "--script", str(script), "--port-file", str(port_file),
             "--log", str(scratch / "requests.jsonl")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the model server did not start")
            time.sleep(0.05)
        return cls(process, f"http://127.0.0.1:{port_file.read_text().strip()}/v1")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def _config(home: Path, base_url: str) -> None:
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        'model = "mock-model"\nmodel_provider = "mock"\n[model_providers.mock]\nname = "mock"\n'
        f'base_url = "{base_url}"\nenv_key = "MOCK_API_KEY"\nwire_api = "responses"\n'
    )


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> Run:
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(argv[:4])} exited {code}: {errors.decode()[-500:]}")
    return Run(wall, usage.ru_maxrss / 1024)


def _summary(name: str, runs: list[Run]) -> str:
    walls = [run.wall_s for run in runs]
    peaks = [run.peak_mib for run in runs]
    return (f"{name}: wall median {statistics.median(walls):.3f} s "
            f"[{min(walls):.3f}-{max(walls):.3f}], peak RSS median "
            f"{statistics.median(peaks):.0f} MiB [{min(peaks):.0f}-{max(peaks):.0f}], "
            f"n={len(runs)}")


def _command(program: str | None, *words: str) -> list[str]:
    if program is None:
        return [sys.executable, "-m", "llmx", "exec", "--skip-git-repo-check", *words]
    return [program, "exec", "--skip-git-repo-check", *words]


def _env(home_var: str, home: Path) -> dict[str, str]:
    return {**os.environ, home_var: str(home), "MOCK_API_KEY": "dummy", "RUST_LOG": "error"}


def bench_by_id(scratch: Path, project: Path, server: ModelServerProcess, megabytes: float,
                runs: int, codex: str | None) -> None:
    size = int(megabytes * 1_000_000)
    cases = {
        "no compaction": None,
        "compaction 1 MB before the end": 1_000_000,
    }
    for name, tail in cases.items():
        pristine = scratch / "pristine.jsonl"
        rollout = generate_rollout(pristine, size, compaction_tail_bytes=tail)
        label = f"{rollout.size / 1e6:.0f} MB, {name}"
        for program, home_var in ((None, "LLMX_HOME"), (codex, "CODEX_HOME")):
            if home_var == "CODEX_HOME" and codex is None:
                continue
            results: list[Run] = []
            second: list[Run] = []
            for index in range(runs):
                home = scratch / f"home-{home_var}-{index}"
                shutil.rmtree(home, ignore_errors=True)
                _config(home, server.base_url)
                target = rollout_path_for(home, rollout.thread_id, STARTED)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(pristine, target)
                argv = _command(program, "resume", rollout.thread_id, "hi")
                results.append(_run(argv, project, _env(home_var, home)))
                if program is not None:
                    second.append(_run(argv, project, _env(home_var, home)))
                shutil.rmtree(home, ignore_errors=True)
            who = "llmx" if program is None else "codex"
            print(_summary(f"{who} exec resume ID, {label}, first run", results), flush=True)
            if second:
                print(_summary(f"{who} exec resume ID, {label}, second run", second), flush=True)
        pristine.unlink()


def write_sessions(home: Path, count: int, cwd: Path) -> None:
    """``count`` small sessions; every fifth one in ``cwd``, the rest elsewhere."""
    write_small_sessions(
        home, count, lambda i: str(cwd) if i % 5 == 0 else f"{cwd.parent}/other{i % 5}"
    )


def _drop_index(home: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{session_index_db_path(home)}{suffix}").unlink(missing_ok=True)


def bench_last(scratch: Path, project: Path, server: ModelServerProcess, sessions: int,
               runs: int, codex: str | None) -> None:
    pristine = scratch / "sessions-home"
    write_sessions(pristine, sessions, project)
    for program, home_var in ((None, "LLMX_HOME"), (codex, "CODEX_HOME")):
        if home_var == "CODEX_HOME" and codex is None:
            continue
        who = "llmx" if program is None else "codex"
        argv = _command(program, "resume", "--last", "hi")
        first: list[Run] = []
        later: list[Run] = []
        for index in range(runs):
            home = scratch / f"last-{home_var}-{index}"
            shutil.rmtree(home, ignore_errors=True)
            shutil.copytree(pristine, home)
            _config(home, server.base_url)
            _drop_index(home)
            first.append(_run(argv, project, _env(home_var, home)))
            later.extend(_run(argv, project, _env(home_var, home)) for _ in range(3))
            shutil.rmtree(home, ignore_errors=True)
        print(_summary(f"{who} exec resume --last, {sessions} sessions, first run (no index)",
                       first), flush=True)
        print(_summary(f"{who} exec resume --last, {sessions} sessions, later runs", later),
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=100.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--codex", help="path of a codex binary to compare with")
    parser.add_argument("--only", choices=("id", "last"), help="run one of the two benches")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, kernel {platform.release()}, "
          f"Python {platform.python_version()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        project = scratch / "project"
        project.mkdir()
        subprocess.run(["git", "init", "-q", str(project)], check=True)
        server = ModelServerProcess.start(scratch)
        try:
            if args.only in (None, "id"):
                bench_by_id(scratch, project, server, args.megabytes, args.runs, args.codex)
            if args.only in (None, "last"):
                bench_last(scratch, project, server, args.sessions, args.runs, args.codex)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
