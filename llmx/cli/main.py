"""The ``llmx`` entry point: builds the argument parser from the command modules."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from llmx import __version__

# Each module registers one top-level command. They import heavy dependencies inside
# their handlers only, so building the parser stays cheap.
COMMAND_MODULES: tuple[str, ...] = (
    "llmx.cli.rollout_cmd",
    "llmx.cli.inspect_cmd",
    "llmx.cli.replay_cmd",
    "llmx.cli.sandbox_cmd",
    "llmx.cli.debug_cmd",
    "llmx.cli.sessions_cmd",
    "llmx.cli.history_cmd",
    "llmx.cli.exec_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmx",
        description="Event-sourced coding agent: every run is an append-only, resumable log.",
    )
    parser.add_argument("--version", action="version", version=f"llmx {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``llmx replay ... | head``); that is not an error of ours.
        sys.stderr.close()
        return 0
    return code
