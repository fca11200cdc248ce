"""``llmx mcp-server``: llmx as an MCP server on stdio (tools ``llmx`` and ``llmx-reply``)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "mcp-server", help="serve llmx as MCP tools on stdio (start and continue threads)",
        description="Serve the MCP tools `llmx` (start a thread with a prompt) and "
        "`llmx-reply` (continue one by thread id) on stdin and stdout. Each thread is a "
        "rollout like any other; approvals are asked of the client as elicitations.",
    )
    parser.add_argument("-c", "--config", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config.toml key for every thread (TOML value; "
                        "repeatable)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from llmx import install_hint
    from llmx.cli.errors import CommandError

    try:
        from llmx.cli.mcp_server.server import serve_stdio
    except ImportError:
        raise CommandError("the MCP SDK is not installed", install_hint("mcp")) from None
    serve_stdio(tuple(args.config))
    return 0
