"""The escape suite's attempts against the real Codex CLI and llmx, side by side.

Run: .venv/bin/python bench/escape_compare.py [--codex PATH] [--codex-home DIR]

Runs the probe of ``tests/sandbox/test_escape_suite.py`` once per column: ``codex sandbox``
(workspace-write, the same writable roots: the workspace and the scratch root, ``/tmp``
and ``$TMPDIR`` excluded) and ``llmx sandbox linux --backend X`` for each backend this
machine offers, every verdict judged on the host as in the suite. Prints, per class of
attempt, how many got through of how many were tried, then every attempt that got through
somewhere, and the classes where llmx lets through an attempt Codex stops. Codex is
skipped, saying so, where its binary is absent (``--codex``, ``$LLMX_CODEX_BIN``). Codex
refuses a home under /tmp, so its ``CODEX_HOME`` is ``--codex-home`` (default
``~/.cache/llmx-bench/codex-home``). The landlock backend refuses root: run as root, its
column is measured by this script run again as ``nobody`` (``setpriv``), as the test
suite does (``tests/support/unprivileged.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.escape_attempts import ATTEMPTS, GROUPS  # noqa: E402
from support.escape_routes import BACKENDS, EscapeRoute  # noqa: E402
from support.escape_run import RouteResult, run_route  # noqa: E402
from support.unprivileged import GID, UID, interpreter_for_nobody  # noqa: E402

from llmx.sandbox.linux.backends import BackendKind, backend_status  # noqa: E402


def _columns(codex: str | None,
             backends: list[str]) -> tuple[list[EscapeRoute], list[EscapeRoute], list[str]]:
    """The routes run here, those run as nobody, and why any is left out."""
    routes: list[EscapeRoute] = []
    as_nobody: list[EscapeRoute] = []
    notes: list[str] = []
    if codex is None:
        pass
    elif os.access(codex, os.X_OK):
        routes.append(EscapeRoute("codex", codex=codex))
    else:
        notes.append("codex: skipped (no Codex binary; pass --codex or set LLMX_CODEX_BIN)")
    for backend in backends:
        status = backend_status(BackendKind(backend))
        if status.available:
            routes.append(EscapeRoute("cli", backend))
        elif backend == "landlock" and os.geteuid() == 0 and shutil.which("setpriv"):
            as_nobody.append(EscapeRoute("cli", backend))
        else:
            notes.append(f"llmx {backend}: skipped ({status.reason})")
    return routes, as_nobody, notes


def _run_as_nobody(route: EscapeRoute) -> RouteResult:
    """``route`` measured by this script run as nobody, in a folder of its own."""
    base = Path(tempfile.mkdtemp(prefix="llmx-escape-compare-nobody-"))
    try:
        os.chown(base, UID, GID)
        python = interpreter_for_nobody(base)
        if python is None:
            raise SystemExit("no Python interpreter nobody can run")
        out = base / "verdicts.json"
        env = {**os.environ, "HOME": str(base), "TMPDIR": str(base),
               "PYTHONDONTWRITEBYTECODE": "1"}
        subprocess.run(["setpriv", f"--reuid={UID}", f"--regid={GID}", "--clear-groups",
                        "--", python, __file__, "--backends", str(route.backend),
                        "--json", str(out)], env=env, cwd=base, check=True, timeout=600)
        found = json.loads(out.read_text())[0]
        return RouteResult(route, found["verdicts"], found["allowed"], found["exit_code"],
                           found["log"])
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _cell(result: RouteResult, names: list[str]) -> str:
    tried = [n for n in names if not isinstance(result.verdicts[n], str)]
    through = [n for n in tried if result.verdicts[n] is True]
    return f"{len(through)}/{len(tried)}" if tried else "-"


def table(results: list[RouteResult]) -> list[str]:
    header = ["class of attempt", *(_label(r) for r in results)]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for group in GROUPS:
        names = [a.name for a in ATTEMPTS if a.group == group]
        lines.append(f"| {group} | " + " | ".join(_cell(r, names) for r in results) + " |")
    every = [a.name for a in ATTEMPTS]
    lines.append("| **all** | " + " | ".join(_cell(r, every) for r in results) + " |")
    return lines


def _label(result: RouteResult) -> str:
    route = result.route
    if route.kind == "codex":
        return "codex sandbox"
    nobody = " (as nobody)" if route.backend == "landlock" and os.geteuid() == 0 else ""
    return f"llmx {route.backend}{nobody}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codex", default=os.environ.get("LLMX_CODEX_BIN"))
    parser.add_argument("--codex-home",
                        default=str(Path.home() / ".cache" / "llmx-bench" / "codex-home"))
    parser.add_argument("--backends", nargs="*", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--json", help="write the verdicts here instead of the table "
                        "(the llmx columns only)")
    args = parser.parse_args()
    if args.json is None:
        Path(args.codex_home).mkdir(parents=True, exist_ok=True)
        os.environ["CODEX_HOME"] = args.codex_home
    routes, as_nobody, notes = _columns(None if args.json else args.codex, args.backends)
    results = []
    with tempfile.TemporaryDirectory(prefix="llmx-escape-compare-") as base:
        for route in routes:
            results.append(run_route(route, Path(base) / route.id))
    if args.json:
        Path(args.json).write_text(json.dumps([
            {"verdicts": r.verdicts, "allowed": r.allowed, "exit_code": r.exit_code,
             "log": r.log} for r in results]))
        return 0
    results += [_run_as_nobody(route) for route in as_nobody]
    for result in results:
        if result.exit_code != 0:
            notes.append(f"{_label(result)}: the probe exited {result.exit_code}: "
                         f"{result.log.strip().splitlines()[-1:]}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, kernel "
          f"{platform.release()}, uid {os.getuid()}")
    print("\n".join(table(results)))
    print()
    for result in results:
        print(f"{_label(result)} lets through: {', '.join(result.escaped()) or 'nothing'}")
    codex = next((r for r in results if r.route.kind == "codex"), None)
    if codex is not None:
        for result in results:
            if result is codex:
                continue
            worse = [a.name for a in ATTEMPTS if result.verdicts[a.name] is True
                     and codex.verdicts[a.name] is False]
            print(f"{_label(result)}: through where Codex stops it: "
                  f"{', '.join(worse) or 'none'}")
    for note in notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
