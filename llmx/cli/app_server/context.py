"""What every handler of one server shares: the home, the command line's config
overrides, the client's identity and the threads loaded in this process."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Protocol

from llmx.cli.app_server.rpc import invalid_request

# The app-server protocol version llmx speaks: Codex 0.169's schema. Clients gate features
# on it (the Python SDK wants 0.151.0 or newer), so it is what ``initialize`` reports.
PROTOCOL_VERSION = "0.169.0"


class LoadedThread(Protocol):
    """A thread this server has open (started, resumed or forked here)."""

    def status(self) -> dict[str, Any]: ...


class ServerContext:
    def __init__(self, home: Path, overrides: list[str]) -> None:
        self.home = home
        self.overrides = overrides
        self.loaded: dict[str, LoadedThread] = {}

    def status_of(self, thread_id: str) -> dict[str, Any]:
        thread = self.loaded.get(thread_id)
        return thread.status() if thread is not None else {"type": "notLoaded"}


def thread_id_param(value: str) -> str:
    """A thread id as the client gave it, checked to be a UUID (Codex's own check)."""
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise invalid_request(f"invalid thread id: {exc}") from None
