"""``llmx app-server``: the JSON-RPC server Codex's SDKs and IDE extensions drive."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "app-server", help="serve Codex's app-server protocol (JSON-RPC) on stdio",
        description="Serve Codex's app-server protocol (v2): one JSON object per line on "
        "stdin and stdout. Threads are rollouts like any other.",
    )
    parser.add_argument("--listen", default="stdio://", metavar="URL",
                        help="transport; only stdio:// is served (the default)")
    parser.add_argument("--stdio", action="store_const", const="stdio://", dest="listen",
                        help="the same as --listen stdio://")
    parser.add_argument("-c", "--config", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config.toml key (TOML value; repeatable)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import asyncio

    from llmx.cli.errors import CommandError
    from llmx.events.home import llmx_home

    if args.listen != "stdio://":
        raise CommandError(f"--listen {args.listen}: only stdio:// is served",
                           "drop --listen or pass --listen stdio://", code=2)
    from llmx.cli.app_server.server import serve_stdio

    return asyncio.run(serve_stdio(llmx_home(), list(args.config)))
