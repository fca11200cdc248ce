"""``llmx rollout``: maintenance of rollout files (``check``)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "rollout", help="check rollout files (and cut a torn final line)",
        description=(
            "Maintenance of rollout files written by llmx or by the Codex CLI. Only `check` "
            "exists: it reports what each file holds and never writes, except that "
            "`check --repair` cuts a torn final line and removes the partial output blobs a "
            "killed writer left."
        ),
    )
    sub = parser.add_subparsers(dest="rollout_command", metavar="SUBCOMMAND", required=True)
    check = sub.add_parser(
        "check", help="report per file: lines, types, unparseable lines, ordinals, torn tail",
        description=(
            "Report, per file, its lines, the count of each line type, unknown types, "
            "unparseable lines, repeated or missing ordinals, the process writing it (if "
            "one is) and a torn final line. Exit status 1 when a file cannot be read, has "
            "an unparseable line or a repeated or missing ordinal, or a --repair was "
            "refused. A torn final line alone does not fail the check."
        ),
    )
    check.add_argument("paths", nargs="+", metavar="PATH",
                       help="rollout files (.jsonl) of llmx or the Codex CLI")
    check.add_argument("--json", action="store_true", help="one JSON object per file")
    check.add_argument("--repair", action="store_true",
                       help="cut a torn final line and remove partial output blobs, and "
                       "nothing else (fsynced; refused while a writer holds the file)")
    check.set_defaults(handler=_run_check)


def _run_check(args: argparse.Namespace) -> int:
    from llmx.cli.rollout_check import run_check

    return run_check(args.paths, as_json=args.json, repair=args.repair)
