"""``llmx debug``: older spellings kept working (``debug landlock``, ``debug seatbelt``)."""

from __future__ import annotations

import argparse
import functools
from typing import Any

from llmx.cli.sandbox_cmd import add_sandbox_options


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "debug", help="debugging aids (landlock/seatbelt: aliases of llmx sandbox linux/macos)"
    )
    sub = parser.add_subparsers(dest="sandbox_command", metavar="TOOL", required=True)
    sub.add_parser("landlock", help="same as: llmx sandbox linux",
                   arguments=functools.partial(add_sandbox_options, platform="linux"))
    sub.add_parser("seatbelt", help="same as: llmx sandbox macos",
                   arguments=functools.partial(add_sandbox_options, platform="macos"))
