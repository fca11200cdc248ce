"""The session's end of the spawn server: start it once per event loop, send it commands.

``connection()`` gives the loop's connection, starting the server on first use. Until
the server says it is up (``ready``) commands are forked from the session as before, so
no command waits for an interpreter to start; ``until_ready`` waits for it. Replies are
read by a reader callback on the loop and resolve one future per request.

A request the server never acknowledged was never started, so a lost server (killed, or
unable to start) is reported as ``ServerUnavailable`` and the caller falls back to
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

# The server's program: detach at once (the starter exits before any import, so its
# reaping never waits long), then serve on the descriptor named in argv.
_BOOT = ("import os, sys\n"
         "if os.fork(): os._exit(0)\n"
         "sys.path[:0] = [sys.argv[1]]\n"
         "from llmx.sandbox.linux.spawn_server import main\n"
         "main(sys.argv[2:])")


_T = TypeVar("_T")


class ServerUnavailable(OSError):
    """The spawn server is gone or never came up; the command was not started."""


class Started:
    """A sandbox the server started: its init's pidfd (to kill it) and the future of the
    init's exit code."""

    def __init__(self, pidfd: int, exited: asyncio.Future[int]) -> None:
        self._pidfd: int | None = pidfd
        self.exited = exited
        exited.add_done_callback(self._exited)

    def kill(self) -> None:
        """``SIGKILL`` to the init: with PID 1 gone the kernel kills the rest of the
        namespace. Through the pidfd, so never another process that reused the PID."""
        if self._pidfd is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)

    def server_lost(self) -> None:
        """The server died with this sandbox running: the init dies with it
        (``PR_SET_PDEATHSIG``), killed; once it has, that is its exit."""
        if self._pidfd is None or self.exited.done():
            return
        self.kill()  # the death signal may not have reached it yet
        self.exited.get_loop().add_reader(self._pidfd, self._init_gone)

    def _init_gone(self) -> None:
        if self._pidfd is not None:
            self.exited.get_loop().remove_reader(self._pidfd)
        if not self.exited.done():
            self.exited.set_result(128 + signal.SIGKILL)

    def _exited(self, exited: asyncio.Future[int]) -> None:
        if not exited.cancelled():
            exited.exception()  # a lost server's error is its awaiter's, not the log's
        self.release()

    def release(self) -> None:
        """Close the pidfd (the init's exit is no longer of interest)."""
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


class Connection:
    """One spawn server serving one event loop."""

    # Set once a server was lost before it came up (it cannot start here, e.g. the
    # interpreter cannot be run again): later commands do not try again.
    unusable = False

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = ours
        self._next_id = 1
        self._starting: dict[int, asyncio.Future[Started]] = {}
        self._running: dict[int, Started] = {}
        self.closed = False
        # Resolved when the server says it is up; failed if it is lost before.
        self._ready: asyncio.Future[None] = loop.create_future()
        self._closing = False
        self._starter: int | None = None
        self._starter_pidfd: int | None = None
        try:
            self._launch(theirs)
        except OSError as exc:
            ours.close()
            self.closed = True
            Connection.unusable = True
            raise ServerUnavailable(f"cannot start the spawn server: {exc}") from exc
        finally:
            # Only the server may hold this end: the session sees end of file on its own
            # once the server is gone.
            theirs.close()
        ours.setblocking(False)
        loop.add_reader(ours.fileno(), self._readable)

    def _launch(self, theirs: socket.socket) -> None:
        """Start the server's starter (``posix_spawn``: no fork of this process, no child
        watcher thread); it is reaped from the loop when its pidfd says it has exited."""
        import llmx

        package_root = os.path.dirname(os.path.dirname(os.path.abspath(llmx.__file__)))
        fd = theirs.fileno()
        os.set_inheritable(fd, True)
        # Paths cross as ``str``: the server must encode them as this process decoded
        # them (the same UTF-8 mode and locale; -I makes it ignore PYTHON* variables).
        locale = {name: value for name, value in os.environ.items()
                  if name in ("LANG", "LC_ALL", "LC_CTYPE")}
        self._starter = os.posix_spawn(
            sys.executable,
            [sys.executable, "-I", "-S", "-B", "-X", f"utf8={sys.flags.utf8_mode}", "-c",
             _BOOT, package_root, str(fd)],
            locale,
            file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                          (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)],
            setsid=True)
        self._starter_pidfd = os.pidfd_open(self._starter)
        self._loop.add_reader(self._starter_pidfd, self._reap_starter)

    def _reap_starter(self, block: bool = False) -> None:
        if self._starter is None or self._starter_pidfd is None:
            return
        pid, _ = os.waitpid(self._starter, 0 if block else os.WNOHANG)
        if pid == 0:
            return
        with contextlib.suppress(ValueError, RuntimeError):
            self._loop.remove_reader(self._starter_pidfd)
        os.close(self._starter_pidfd)
        self._starter = self._starter_pidfd = None

    @property
    def ready(self) -> bool:
        """Whether the server is up (until then commands need not wait for it)."""
        return self._ready.done() and self._ready.exception() is None

    async def until_ready(self) -> None:
        """Return once the server is up; ``ServerUnavailable`` if it never comes up."""
        await asyncio.shield(self._ready)

    async def start(self, setup: ChildSetup, stdio: tuple[int, int, int]) -> Started:
        """Send one command; returns once the server has cloned its init.

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
        try:
            return await started
        except asyncio.CancelledError:
            # Answered, but cancelled before this task resumed: nobody else would kill it.
            if started.done() and not started.cancelled() and started.exception() is None:
                started.result().kill()
            raise

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
            try:
                kind, request_id, values = spawn_wire.decode_reply(message)
            except spawn_wire.ProtocolError:
                for fd in fds:
                    os.close(fd)
                self._lost()
                return
            if kind == spawn_wire.READY:
                self._resolve(self._ready, None)
            elif kind == spawn_wire.STARTED:
                exited: asyncio.Future[int] = self._loop.create_future()
                handle = self._running[request_id] = Started(fds[0], exited)
                starting = self._starting.pop(request_id, None)
                if starting is None or starting.cancelled():
                    # Its caller gave up (cancelled) before this answer: nobody would
                    # ever kill it.
                    handle.kill()
                self._resolve(starting, handle)
            elif kind == spawn_wire.EXITED:
                code = values[0]
                assert isinstance(code, int)
                running = self._running.pop(request_id, None)
                if running is not None:
                    self._resolve(running.exited, code)
            else:
                errno_, text = values
                assert isinstance(errno_, int)
                failure = ServerUnavailable(errno_, f"the spawn server could not start it: {text}")
                starting = self._starting.pop(request_id, None)
                if starting is not None and not starting.done():
                    starting.set_exception(failure)

    @staticmethod
    def _resolve(future: asyncio.Future[_T] | None, value: _T) -> None:
        if future is not None and not future.done():
            future.set_result(value)

    def _lost(self) -> None:
        """The server is gone: fail what it never started; what it started dies with it
        and is reported killed once its init has exited."""
        if self.closed:
            return
        self.closed = True
        self._reap_starter(block=True)
        if not self.ready and not self._closing:
            Connection.unusable = True
        with contextlib.suppress(ValueError, RuntimeError):
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        gone = ServerUnavailable("the spawn server is gone")
        if not self._loop.is_closed() and not self._ready.done():
            self._ready.set_exception(gone)
            self._ready.exception()  # retrieved: nobody may be waiting for it
        if self._loop.is_closed():
            # Nobody can await these any more (and the loop can schedule no callback).
            for handle in self._running.values():
                handle.release()
        else:
            for future in self._starting.values():
                if not future.done():
                    future.set_exception(gone)
            for handle in self._running.values():
                handle.server_lost()
        self._starting.clear()
        self._running.clear()

    def close(self) -> None:
        """Shut the server down (it exits on end of file; its sandboxes die with it)."""
        self._closing = True
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
