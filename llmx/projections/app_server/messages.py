"""What the app-server fold produces: notifications, server requests, resolutions.

The fold knows nothing of a connection: a server request is keyed by the call it asks
about, and the connection gives it the JSON-RPC id it sends it under (and answers
``serverRequest/resolved`` with that id).
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct


class Notification(Struct, frozen=True):
    method: str
    params: dict[str, Any]


class ServerRequest(Struct, frozen=True):
    """An approval the runtime waits for; ``call_id`` is what its answer must name."""

    method: str
    params: dict[str, Any]
    thread_id: str
    call_id: str


class RequestResolved(Struct, frozen=True):
    """The decision for ``call_id`` is in the log: the request it answered is resolved."""

    thread_id: str
    call_id: str


WireMessage = Notification | ServerRequest | RequestResolved
