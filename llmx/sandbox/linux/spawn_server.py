"""The spawn server: a small single-threaded process that forks a session's sandboxes.

Why it exists: the own backend's waiter used to be forked from the session itself, a
large Python process with threads, and that costs. ``subprocess`` must run the set-up as
a ``preexec_fn`` (the only safe way to run Python in the child of a threaded process),
and both that fork and the init's fork after it copy the session's page tables and then
fault on its pages. This process is started once per session, from a fresh interpreter
(``python -I -S``) that imports only the sandbox's own modules: it has no threads, so it
forks with libc's ``fork`` and no at-fork handlers, and it is a few megabytes, so the
forks are cheap. What a child does after the fork is exactly what it did before
(``namespaces.run_in_child``); only its parent changed.

Lifetime: it reads requests until the session's end of the socket closes (the session
exited or shut it down), then exits; its children have ``PR_SET_PDEATHSIG`` set to
``SIGKILL``, so a sandbox never outlives the server, and the server never outlives the
session. The interpreter forks once before it imports anything (``spawn_client``'s boot
line), so the session only reaps that short-lived starter and is not the parent of the
server for the server's whole life.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import sys
from typing import TYPE_CHECKING

from llmx.sandbox.linux import kernel, namespaces, pidns, spawn_wire

if TYPE_CHECKING:
    from typing import NoReturn


def _start_child(request: spawn_wire.SpawnRequest) -> int:
    """Clone the init of ``request``'s sandbox; returns its pid (raises ``OSError``)."""
    pid = kernel.fork_into(namespaces.namespace_flags(request.setup))
    if pid != 0:
        return pid
    try:
        # What ``subprocess`` did for the session: stdio, a session of its own.
        os.dup2(request.stdin, 0)
        os.dup2(request.stdout, 1)
        os.dup2(request.stderr, 2)
        os.setsid()
        namespaces.run_as_init(request.setup)
    finally:
        os._exit(126)


class _Server:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.selector = selectors.DefaultSelector()
        self.selector.register(sock, selectors.EVENT_READ, None)
        # pidfd of each running init -> (request id, pid)
        self.running: dict[int, tuple[int, int]] = {}

    def send(self, message: bytes, fds: tuple[int, ...] = ()) -> None:
        socket.send_fds(self.sock, [message], list(fds))

    def serve(self) -> None:
        self.send(spawn_wire.encode_reply(spawn_wire.READY, 0))
        while True:
            for key, _ in self.selector.select():
                if key.data is None:
                    if not self.take_request():
                        return
                else:
                    self.reap(key.fd)

    def take_request(self) -> bool:
        message, fds = spawn_wire.receive(self.sock)
        if not message:
            return False  # the session closed its end
        try:
            request = spawn_wire.decode_request(message, fds)
            try:
                pid = _start_child(request)
            except OSError as exc:
                self.send(spawn_wire.encode_reply(spawn_wire.FAILED, request.request_id,
                                                  exc.errno or 0, str(exc)))
                return True
        finally:
            for fd in fds:
                os.close(fd)
        pidfd = os.pidfd_open(pid)
        self.running[pidfd] = (request.request_id, pid)
        self.selector.register(pidfd, selectors.EVENT_READ, pid)
        self.send(spawn_wire.encode_reply(spawn_wire.STARTED, request.request_id), (pidfd,))
        return True

    def reap(self, pidfd: int) -> None:
        request_id, pid = self.running.pop(pidfd)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        self.send(spawn_wire.encode_reply(spawn_wire.EXITED, request_id,
                                          pidns.exit_code(status)))


def serve(fd: int) -> None:
    """Serve spawn requests on the socket ``fd`` until the session closes its end."""
    sock = socket.socket(fileno=fd)
    try:
        _Server(sock).serve()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the session is gone; the children die with this process
    finally:
        with contextlib.suppress(OSError):
            sock.close()


def main(argv: list[str]) -> NoReturn:
    """``python -I -S -c ... <fd>`` (detached from its starter already): serve."""
    fd = int(argv[0])
    # Nothing of the session's but the socket and stdio (descriptors are not inherited
    # by default, but a library may have made one inheritable).
    os.closerange(3, fd)
    os.closerange(fd + 1, 1 << 20)
    code = 0
    try:
        serve(fd)
    except BaseException as exc:  # a bug: say so where the session's stderr goes
        with contextlib.suppress(OSError):
            os.write(2, f"llmx spawn server: {type(exc).__name__}: {exc}\n".encode(
                errors="replace"))
        code = 1
    os._exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
