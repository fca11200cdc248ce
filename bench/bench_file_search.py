"""The ``@`` file mention in a large git repository, beside Codex 0.169's TUI.

A repository of ``--files`` files (default 80,000, in ~4,000 folders, names drawn from a
small vocabulary so that short queries match many) plus 5,000 files in an ignored
``build/`` folder is made under the system's temporary folder and committed. Then:

- in the process: ``FileIndex`` (what the session uses) listing the repository, and the
  time of each search as a query is typed letter by letter; beside it the search every
  keystroke made before (every path scored by ``rank``);
- in a terminal (tmux), llmx and Codex each started in the repository: once the session
  is open, ``@`` and the query are sent at once (``tmux send-keys``) and the pane polled
  until the wanted file's name is on the screen. "first" is the session's first ``@``
  (Codex starts its file search at the ``@``; llmx has listed the files in the
  background since the session opened), "again" a second query after the first is
  erased. The figure includes tmux's own delay and the polling (one ``capture-pane``
  every ~5 ms).

Run: .venv/bin/python bench/bench_file_search.py [--files 80000] [--runs 3] [--codex PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from bench_tui import (  # noqa: E402
    ModelServerProcess,
    Pane,
    composer_ready,
    config,
    environment,
    program,
    session_open,
    stop_daemons,
)

from llmx.cli.tui.file_search import FileIndex, rank, workspace_files  # noqa: E402

WORDS = ["core", "net", "engine", "render", "util", "config", "handler", "index", "model",
         "view", "service", "client", "server", "store", "event", "parser", "widget",
         "layout", "cache", "stream", "table", "query", "session", "worker"]
NEEDLE = "src/deep/path/needle_widget_factory.py"
# What both popups show of it (Codex writes the folder after the name).
NEEDLE_NAME = "needle_widget_factory.py"
QUERIES = ["needlewid", "ndlwfac"]


def make_repo(root: Path, count: int) -> None:
    """``count`` files committed, 5,000 ignored, and the needle."""
    for number in range(count):
        a, b, c = (WORDS[(number * k) % len(WORDS)] for k in (7, 11, 13))
        folder = root / f"{a}_{number % 60}" / f"{b}{(number // 60) % 70}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{c}_{WORDS[number % len(WORDS)]}_{number}.py").touch()
    (root / NEEDLE).parent.mkdir(parents=True, exist_ok=True)
    (root / NEEDLE).touch()
    ignored = root / "build" / "out"
    ignored.mkdir(parents=True)
    for number in range(5000):
        (ignored / f"needle_widget_factory_{number}.o").touch()
    (root / ".gitignore").write_text("build/\n")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "files"], cwd=root, check=True)


def ms(values: list[float]) -> str:
    shown = [v * 1000 for v in values]
    return (f"median {statistics.median(shown):.1f} ms [{min(shown):.1f}-{max(shown):.1f}], "
            f"n={len(shown)}")


def bench_in_process(repo: Path, runs: int) -> None:
    loads: list[float] = []
    for _ in range(runs):
        index = FileIndex(repo)
        started = time.perf_counter()
        index.start()
        index.wait()
        loads.append(time.perf_counter() - started)
    print(f"llmx: listing {len(workspace_files(repo))} files (git ls-files, once per "
          f"session, in the background): {ms(loads)}", flush=True)
    paths = workspace_files(repo)
    for query in [*QUERIES, "cfg", "s"]:
        per_key: list[float] = []
        before: list[float] = []
        for _ in range(runs):
            index = FileIndex(repo)
            index.start()
            index.wait()
            for end in range(1, len(query) + 1):
                started = time.perf_counter()
                found = index.search(query[:end])
                per_key.append(time.perf_counter() - started)
                started = time.perf_counter()
                rank(query[:end], paths)
                before.append(time.perf_counter() - started)
        print(f"llmx: search per keystroke typing {query!r} (top: {(found or ['-'])[0]}): "
              f"{ms(per_key)}; every path scored (before): {ms(before)}", flush=True)


def shown(path: str) -> Callable[[str], bool]:
    return lambda screen: path in screen


def bench_terminal(scratch: Path, repo: Path, runs: int, codex: str | None) -> None:
    script = {"turns": [], "fallback": [{"type": "message", "text": "hi"}]}
    server = ModelServerProcess.start(scratch, script)
    try:
        for who in (None, codex) if codex else (None,):
            home_var = "LLMX_HOME" if who is None else "CODEX_HOME"
            first: list[float] = []
            again: list[float] = []
            for run in range(runs):
                home = scratch / f"{home_var}-{run}"
                config(home, server.base_url, repo)
                with Pane(program(who), environment(home_var, home), repo) as pane:
                    pane.wait_for(composer_ready(who), "a ready composer")
                    pane.wait_for(session_open(who, "mock-model"), "the session")
                    time.sleep(1.0)  # a person starts typing
                    for query, into in ((QUERIES[0], first), (QUERIES[1], again)):
                        pane.started = time.perf_counter()
                        pane.send_literal("@" + query)
                        into.append(pane.wait_for(shown(NEEDLE_NAME),
                                                  f"{NEEDLE_NAME} for @{query}"))
                        pane.send_key("BSpace", repeat=len(query) + 1)
                        pane.wait_for(lambda screen: NEEDLE_NAME not in screen,
                                      "the popup gone")
                stop_daemons(home)
            label = "llmx" if who is None else "codex"
            print(f"{label}: @{QUERIES[0]} to the file shown, first in the session: "
                  f"{ms(first)}", flush=True)
            print(f"{label}: @{QUERIES[1]} to the file shown, again: {ms(again)}", flush=True)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=80_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--codex", help="path of a codex binary to compare with")
    parser.add_argument("--only", choices=("process", "terminal"))
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, kernel {platform.release()}, "
          f"Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}", flush=True)
    repo_parent = Path(tempfile.mkdtemp(prefix="llmx-bench-repo-"))
    try:
        repo = repo_parent / "repo"
        repo.mkdir()
        started = time.perf_counter()
        make_repo(repo, args.files)
        print(f"repository: {args.files} files committed, 5000 ignored "
              f"(made in {time.perf_counter() - started:.1f} s)", flush=True)
        if args.only in (None, "process"):
            bench_in_process(repo, args.runs)
        if args.only in (None, "terminal"):
            if shutil.which("tmux") is None:
                raise SystemExit("the terminal measure needs tmux")
            # Homes beside the checkout, as bench_tui keeps them (not under /tmp).
            with tempfile.TemporaryDirectory(dir=ROOT, prefix=".bench-") as tmp:
                bench_terminal(Path(tmp), repo, args.runs, args.codex)
    finally:
        shutil.rmtree(repo_parent, ignore_errors=True)
    print(f"load at the end {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
