"""The session's end of the spawn server: start it once per event loop, send it commands.

``connection()`` gives the loop's connection, starting the server on first use (the
request is queued in the socket and served once the interpreter is up, so the first
command pays the server's start-up once and no later one does). Replies are read by a
reader callback on the loop and resolve one future per request.

A request the server never acknowledged was never started, so a lost server (killed, or
unable to start) is reported as ``ServerUnavailable`` and the caller can fall back to
forking the session.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import socket
import sys
from typing import TypeVar

from llmx.sandbox.linux import spawn_wire
from llmx.sandbox.linux.namespaces import ChildSetup

# The server's program: detach, then serve on the descriptor named in argv.
_BOOT = ("import sys; sys.path[:0] = [sys.argv[1]]; "
         "from llmx.sandbox.linux.spawn_server import main; main(sys.argv[2:])")


_T = TypeVar("_T")


class ServerUnavailable(OSError):
    """The spawn server is gone or never came up; the command was not started."""


class Started:
    """A waiter the server forked: a handle to kill it and the future of its exit code."""

    def __init__(self, pidfd: int, exited: asyncio.Future[int]) -> None:
        self._pidfd: int | None = pidfd
        self.exited = exited
        exited.add_done_callback(self._exited)

    def release(self) -> None:
        """Close the pidfd (the waiter's exit is no longer of interest)."""
        self._close()

    def kill(self) -> None:
        """``SIGKILL`` to the waiter: its init follows (``PR_SET_PDEATHSIG``), and with
        PID 1 gone the kernel kills the rest of the namespace."""
        if self._pidfd is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)

    def _exited(self, exited: asyncio.Future[int]) -> None:
        if not exited.cancelled():
            exited.exception()  # a lost server's error is the waiter's business, not the log's
        self._close()

    def _close(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


class Connection:
    """One spawn server serving one event loop."""

    # Set once a server was lost before it started anything (it cannot start here, e.g.
    # the interpreter cannot be run again): later commands do not try again.
    unusable = False

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = ours
        self._next_id = 1
        self._starting: dict[int, asyncio.Future[Started]] = {}
        self._running: dict[int, Started] = {}
        self.closed = False
        # Whether the server ever started a command: one lost before that could not run.
        self.served = False
        ours.setblocking(False)
        loop.add_reader(ours.fileno(), self._readable)
        self._starter = self._launch(theirs)

    def _launch(self, theirs: socket.socket) -> asyncio.Task[None]:
        import llmx

        package_root = os.path.dirname(os.path.dirname(os.path.abspath(llmx.__file__)))

        async def start_and_reap() -> None:
            try:
                starter = await asyncio.create_subprocess_exec(
                    sys.executable, "-I", "-S", "-B", "-c", _BOOT, package_root,
                    str(theirs.fileno()), pass_fds=(theirs.fileno(),),
                    stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                    start_new_session=True)
            finally:
                # Only the server may hold this end: the session sees end of file on its
                # own once the server is gone.
                theirs.close()
            # The server is the starter's child, reparented when the starter exits.
            await starter.wait()

        def launched(task: asyncio.Task[None]) -> None:
            if not task.cancelled() and task.exception() is not None:
                self._lost()

        task = asyncio.ensure_future(start_and_reap())
        task.add_done_callback(launched)
        return task

    async def start(self, setup: ChildSetup, stdio: tuple[int, int, int]) -> Started:
        """Send one command; returns once the server has forked its waiter.

        The descriptors are the caller's to close (they are copied into the message).
        """
        if self.closed:
            raise ServerUnavailable("the spawn server is gone")
        request_id = self._next_id
        self._next_id += 1
        encoded = spawn_wire.encode_request(spawn_wire.SpawnRequest(request_id, *stdio, setup))
        started: asyncio.Future[Started] = self._loop.create_future()
        self._starting[request_id] = started
        try:
            await self._send(encoded.message, encoded.fds)
        except BaseException:
            self._starting.pop(request_id, None)
            raise
        finally:
            if encoded.memfd is not None:
                os.close(encoded.memfd)
        return await started

    async def _send(self, message: bytes, fds: list[int]) -> None:
        while True:
            try:
                socket.send_fds(self._sock, [message], fds)
                return
            except BlockingIOError:
                pass
            except (BrokenPipeError, ConnectionResetError) as exc:
                self._lost()
                raise ServerUnavailable("the spawn server is gone") from exc
            waiting = self._loop.create_future()
            self._loop.add_writer(self._sock.fileno(), waiting.set_result, None)
            try:
                await waiting
            finally:
                self._loop.remove_writer(self._sock.fileno())

    def _readable(self) -> None:
        while True:
            try:
                message, fds = spawn_wire.receive(self._sock)
            except BlockingIOError:
                return
            except (ConnectionResetError, spawn_wire.ProtocolError):
                self._lost()
                return
            if not message:
                self._lost()
                return
            kind, request_id, values = spawn_wire.decode_reply(message)
            if kind == spawn_wire.STARTED:
                exited: asyncio.Future[int] = self._loop.create_future()
                handle = self._running[request_id] = Started(fds[0], exited)
                self.served = True
                self._resolve(self._starting.pop(request_id, None), handle)
            elif kind == spawn_wire.EXITED:
                code = values[0]
                assert isinstance(code, int)
                running = self._running.pop(request_id, None)
                if running is not None:
                    self._resolve(running.exited, code)
            else:
                errno_, text = values
                assert isinstance(errno_, int)
                failure = ServerUnavailable(errno_, f"the spawn server could not fork: {text}")
                starting = self._starting.pop(request_id, None)
                if starting is not None and not starting.done():
                    starting.set_exception(failure)

    @staticmethod
    def _resolve(future: asyncio.Future[_T] | None, value: _T) -> None:
        if future is not None and not future.done():
            future.set_result(value)

    def _lost(self) -> None:
        """The server is gone: fail what it never started; exits are no longer reported."""
        if self.closed:
            return
        self.closed = True
        if not self.served and self._starting:
            Connection.unusable = True
        with contextlib.suppress(ValueError, RuntimeError):
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        gone = ServerUnavailable("the spawn server is gone")
        if self._loop.is_closed():
            # Nobody can await these any more (and the loop can schedule no callback).
            for handle in self._running.values():
                handle.release()
        else:
            for future in self._starting.values():
                if not future.done():
                    future.set_exception(gone)
            for handle in self._running.values():
                if not handle.exited.done():
                    handle.exited.set_exception(gone)
        self._starting.clear()
        self._running.clear()

    def close(self) -> None:
        """Shut the server down (it exits on end of file; its sandboxes die with it)."""
        self._lost()


# Each holds its loop (the reader callback), so a closed loop stays here until the next
# ``connection()`` or the process's exit shuts its server down.
_connections: dict[asyncio.AbstractEventLoop, Connection] = {}


@atexit.register
def _close_all() -> None:
    for conn in _connections.values():
        conn.close()
    _connections.clear()


def connection() -> Connection:
    """The running loop's connection to its spawn server, started if need be."""
    if Connection.unusable:
        raise ServerUnavailable("the spawn server could not be started in this process")
    loop = asyncio.get_running_loop()
    for other, conn in list(_connections.items()):
        if other.is_closed():
            conn.close()
            del _connections[other]
    existing = _connections.get(loop)
    if existing is not None and not existing.closed:
        return existing
    conn = _connections[loop] = Connection(loop)
    return conn
