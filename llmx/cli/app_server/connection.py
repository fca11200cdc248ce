"""One client connection: the JSON-RPC envelope, dispatch, and server-to-client requests.

Requests are served concurrently (a turn streams while ``thread/list`` is answered);
every request gets an answer, an error for anything llmx does not serve. Lines that are
not JSON objects are reported on stderr and otherwise ignored, as Codex does.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from llmx.cli.app_server.rpc import (
    INTERNAL_ERROR,
    RpcError,
    codex_methods,
    invalid_request,
    not_implemented,
    unknown_method,
)
from llmx.cli.app_server.transport import StdioTransport

Handler = Callable[["Connection", Any], Awaitable[Any]]
# What the client answered to a server request: its ``result`` (None for an error).
AnswerCallback = Callable[[Any], Awaitable[None]]

_decoder = msgspec.json.Decoder()
# The id of the request a handler is serving (each request runs in a task of its own).
_REQUEST_ID: contextvars.ContextVar[Any] = contextvars.ContextVar("request_id")


class Answered:
    """Returned by a handler that already wrote its response (:meth:`Connection.respond`)."""


ANSWERED = Answered()


def log(message: str) -> None:
    sys.stderr.write(f"llmx app-server: {message}\n")
    sys.stderr.flush()


class Connection:
    def __init__(self, transport: StdioTransport, handlers: dict[str, Handler],
                 not_implemented: dict[str, str]) -> None:
        self.transport = transport
        self._handlers = handlers
        self._not_implemented = not_implemented
        self.initialized = False
        self.client_name = ""
        self.client_version = ""
        self.opted_out: frozenset[str] = frozenset()
        self._next_request_id = 0
        self._answers: dict[int, AnswerCallback] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Called once stdin ends, before the connection returns (threads are closed there).
        self.on_close: list[Callable[[], Awaitable[None]]] = []

    # -- sending ------------------------------------------------------------------------

    def notify(self, method: str, params: dict[str, Any]) -> None:
        if method in self.opted_out:
            return
        self.transport.write({"method": method, "params": params,
                              "emittedAtMs": time.time_ns() // 1_000_000})

    def request(self, method: str, params: dict[str, Any], on_answer: AnswerCallback) -> int:
        """Send a server request; ``on_answer`` gets the client's result. Returns its id."""
        request_id = self._next_request_id
        self._next_request_id += 1
        self._answers[request_id] = on_answer
        self.transport.write({"method": method, "id": request_id, "params": params})
        return request_id

    def respond(self, request_id: Any, result: Any) -> None:
        """Answer request ``request_id`` now, ahead of its handler's return (which must
        then be :data:`ANSWERED`)."""
        self.transport.write({"id": request_id, "result": result})

    def current_request_id(self) -> Any:
        """The id of the request the calling handler serves."""
        return _REQUEST_ID.get()

    def forget_request(self, request_id: int) -> None:
        """The request was settled otherwise (its turn ended): ignore a late answer."""
        self._answers.pop(request_id, None)

    # -- receiving ----------------------------------------------------------------------

    async def serve(self) -> None:
        while True:
            line = await self.transport.read_line()
            if line is None:
                break
            if line.strip():
                self._on_line(line)
        for close in self.on_close:
            await close()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.transport.close()

    def _on_line(self, line: bytes) -> None:
        try:
            message = _decoder.decode(line)
        except msgspec.DecodeError as exc:
            log(f"Failed to deserialize JSONRPCMessage: {exc}")
            return
        if not isinstance(message, dict):
            log("Failed to deserialize JSONRPCMessage: not a JSON object")
            return
        method = message.get("method")
        if isinstance(method, str) and "id" in message:
            self._spawn(self._serve_request(message["id"], method, message.get("params")))
        elif isinstance(method, str):
            self._on_notification(method)
        elif "id" in message and ("result" in message or "error" in message):
            self._on_answer(message)
        else:
            log("Failed to deserialize JSONRPCMessage: neither a request, a notification "
                "nor a response")

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_notification(self, method: str) -> None:
        if method != "initialized":
            log(f"ignoring client notification {method}")

    def _on_answer(self, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        callback = self._answers.pop(request_id, None) if isinstance(request_id, int) else None
        if callback is None:
            return  # an answer to nothing pending: ignored, as Codex does
        if "error" in message:
            log(f"client answered request {request_id} with an error: {message['error']}")
        self._spawn(callback(message.get("result")))

    async def _serve_request(self, request_id: Any, method: str, params: Any) -> None:
        _REQUEST_ID.set(request_id)
        try:
            result = await self._dispatch(method, params)
        except RpcError as error:
            self.transport.write({"id": request_id, "error": error.body()})
            return
        except Exception as exc:
            log(f"{method} failed: {exc!r}\n{traceback.format_exc()}")
            internal = RpcError(INTERNAL_ERROR, f"{method} failed: {exc}")
            self.transport.write({"id": request_id, "error": internal.body()})
            return
        if result is not ANSWERED:
            self.transport.write({"id": request_id, "result": result})

    async def _dispatch(self, method: str, params: Any) -> Any:
        if method == "initialize":
            if self.initialized:
                raise invalid_request("Already initialized")
        elif not self.initialized:
            raise invalid_request("Not initialized")
        handler = self._handlers.get(method)
        if handler is not None:
            return await handler(self, params)
        if method in self._not_implemented:
            raise not_implemented(method, self._not_implemented[method])
        if method in codex_methods():
            raise not_implemented(method, "this part of Codex's protocol is not served")
        raise unknown_method(method)
