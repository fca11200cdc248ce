"""``llmx app-server``: serve one client over stdin and stdout until stdin ends."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from llmx.cli.app_server.catalog import Catalog
from llmx.cli.app_server.command_exec import CommandExec
from llmx.cli.app_server.connection import Connection, Handler
from llmx.cli.app_server.context import ServerContext
from llmx.cli.app_server.history_ops import HistoryOps
from llmx.cli.app_server.live_threads import LiveThreads
from llmx.cli.app_server.stored_threads import StoredThreads
from llmx.cli.app_server.transport import StdioTransport

# Methods of Codex's protocol llmx answers with an error of its own, and why.
NOT_IMPLEMENTED: dict[str, str] = {
    "account/login/start": "llmx authenticates with the provider's env_key, not a login",
    "account/logout": "llmx authenticates with the provider's env_key, not a login",
}


def build_handlers(context: ServerContext) -> dict[str, Handler]:
    handlers: dict[str, Handler] = {}
    handlers.update(Catalog(context).handlers())
    handlers.update(StoredThreads(context).handlers())
    handlers.update(CommandExec(context).handlers())
    live = LiveThreads(context)
    handlers.update(live.handlers())
    handlers.update(HistoryOps(live).handlers())
    return handlers


async def serve_stdio(home: Path, overrides: list[str]) -> int:
    context = ServerContext(home, overrides)
    transport = await StdioTransport.open()
    connection = Connection(transport, build_handlers(context), NOT_IMPLEMENTED)
    loop = asyncio.get_running_loop()
    serving = asyncio.ensure_future(connection.serve())
    # SIGTERM (the SDK's way to stop a server after closing stdin) ends like end of input.
    loop.add_signal_handler(signal.SIGTERM, serving.cancel)
    try:
        await serving
    except asyncio.CancelledError:
        for close in connection.on_close:
            await close()
    return 0
