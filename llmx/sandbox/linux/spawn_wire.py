"""The messages between a session and its spawn server (``spawn_server``).

One ``SOCK_SEQPACKET`` socket pair, so every message arrives whole and the descriptors
sent with it arrive with it. A message is a one-byte kind and a ``marshal``-ed body:
both ends run the same interpreter (the server is started with ``sys.executable``), and
``marshal`` is the cheapest encoding of plain tuples, dicts, strings and bytes there is.
Descriptors travel as ``SCM_RIGHTS``; the body names them by their index in that list.

A request larger than a socket buffer (a big environment or argument list) travels in a
``memfd`` sent as its last descriptor.
"""

from __future__ import annotations

import marshal
import os
import socket
from typing import TYPE_CHECKING

from llmx.sandbox.linux.namespaces import ChildSetup
from llmx.sandbox.value import Value

if TYPE_CHECKING:
    from typing import Any

# Largest body sent inline; above it the body goes in a memfd (the default socket buffer
# of ~208 KiB must hold a message whole).
MAX_INLINE = 32 * 1024
# stdin, stdout, stderr, error pipe, status pipe, Landlock ruleset, memfd.
MAX_FDS = 8

REQUEST = b"R"
REQUEST_IN_MEMFD = b"M"
# Server to session: it is up (request id 0), a sandbox's init was cloned (its pidfd
# attached), it exited (with its exit code), or it could not be cloned (errno, message).
READY = b"Y"
STARTED = b"S"
EXITED = b"E"
FAILED = b"F"

# ``ChildSetup`` fields that hold descriptors, sent as ``SCM_RIGHTS``.
_FD_FIELDS = ("error_fd", "status_fd", "landlock_ruleset")
# Fields only the exec path uses (``exec_confined``), with their defaults: a spawn server
# never sees them set.
_LOCAL_FIELDS: dict[str, object] = {
    "after_exit": None, "waiter_fds": (), "relay_signals": False,
}


class ProtocolError(RuntimeError):
    """A message the other end could not have sent: the two are out of step."""


class SpawnRequest(Value):
    """One command for the server to start: its stdio and what its child sets up."""

    __slots__ = ("request_id", "setup", "stderr", "stdin", "stdout")

    def __init__(
        self,
        request_id: int,
        stdin: int,
        stdout: int,
        stderr: int,
        setup: ChildSetup,
    ) -> None:
        self.request_id = request_id
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.setup = setup


class EncodedRequest(Value):
    """A request ready for ``send_fds``; the caller closes ``memfd`` once it is sent."""

    __slots__ = ("fds", "memfd", "message")

    def __init__(self, message: bytes, fds: list[int], memfd: int | None = None) -> None:
        self.message = message
        self.fds = fds
        self.memfd = memfd


def encode_request(request: SpawnRequest) -> EncodedRequest:
    """The message and the descriptors to send with it (the caller still owns them)."""
    fds = [request.stdin, request.stdout, request.stderr]
    fields: dict[str, object] = {}
    for name in ChildSetup.__slots__:
        value = getattr(request.setup, name)
        if name in _LOCAL_FIELDS:
            if value != _LOCAL_FIELDS[name]:
                raise ValueError(f"{name} cannot be sent to a spawn server")
            continue
        if name in _FD_FIELDS and value is not None:
            fds.append(value)
            value = len(fds) - 1
        fields[name] = value
    body = marshal.dumps((request.request_id, fields))
    if len(body) <= MAX_INLINE:
        return EncodedRequest(REQUEST + body, fds)
    memfd = os.memfd_create("llmx-spawn-request", os.MFD_CLOEXEC)
    try:
        view = memoryview(body)
        while view:
            view = view[os.write(memfd, view):]
    except BaseException:
        os.close(memfd)
        raise
    return EncodedRequest(REQUEST_IN_MEMFD, [*fds, memfd], memfd)


def decode_request(message: bytes, fds: list[int]) -> SpawnRequest:
    """The request in ``message``; ``fds`` (received with it) become its descriptors."""
    kind = message[:1]
    if kind == REQUEST_IN_MEMFD:
        memfd = fds.pop()
        try:
            body = _read_all(memfd)
        finally:
            os.close(memfd)
    elif kind == REQUEST:
        body = message[1:]
    else:
        raise ProtocolError(f"unexpected message kind {kind!r}")
    request_id, fields = _load(body, 2)
    for name in _FD_FIELDS:
        if fields.get(name) is not None:
            fields[name] = fds[fields[name]]
    return SpawnRequest(request_id, fds[0], fds[1], fds[2], ChildSetup(**fields))


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def encode_reply(kind: bytes, request_id: int, *values: int | str) -> bytes:
    return kind + marshal.dumps((request_id, *values))


def decode_reply(message: bytes) -> tuple[bytes, int, tuple[int | str, ...]]:
    kind = message[:1]
    if kind not in (READY, STARTED, EXITED, FAILED):
        raise ProtocolError(f"unexpected reply kind {kind!r}")
    request_id, *values = _load(message[1:], 1)
    return kind, request_id, tuple(values)


def _load(body: bytes, least: int) -> tuple[Any, ...]:
    """The tuple of at least ``least`` items ``body`` holds; a body cut short or garbled
    is the other end out of step, not a bug of this one."""
    try:
        loaded = marshal.loads(body)
    except (EOFError, ValueError, TypeError) as exc:
        raise ProtocolError(f"a spawn message could not be read: {exc}") from None
    if not isinstance(loaded, tuple) or len(loaded) < least:
        raise ProtocolError("a spawn message holds the wrong fields")
    return loaded


def receive(sock: socket.socket) -> tuple[bytes, list[int]]:
    """One message and its descriptors (close-on-exec); ``b""`` once the peer is gone."""
    message, fds, flags, _ = socket.recv_fds(sock, MAX_INLINE + 64, MAX_FDS,
                                             socket.MSG_CMSG_CLOEXEC)
    if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
        for fd in fds:
            os.close(fd)
        raise ProtocolError("a spawn message was cut short")
    return message, fds
