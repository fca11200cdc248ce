"""The async API the runtime uses: start one command confined, stream its output, kill it.

``start_confined`` returns a ``ConfinedProcess`` (what ``asyncio.subprocess.Process``
offers, plus a ``kill`` of the whole sandbox); ``run_confined`` runs one to completion
and collects its output. With the own backend the session's spawn server forks the
sandbox (``spawn_server``), so the session itself is not forked per command; the other
backends, and the own one where no server can run, are started with ``subprocess``.

The command runs in its own process group (and with the own backend its own PID
namespace); cancelling the awaiting task (how the runtime interrupts a turn) or hitting
the timeout kills all of it with ``SIGKILL`` and reaps it before the cancellation
propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping

from llmx.sandbox.linux import spawn_client
from llmx.sandbox.linux.backends import BackendKind
from llmx.sandbox.linux.prepare import PreparedCommand, prepare
from llmx.sandbox.linux.result import (
    SETUP_TODO,
    ConfinedResult,
    SandboxSetupError,
    make_result,
    shell_exit_code,
)
from llmx.sandbox.plan import ConfinementPlan

OutputCallback = Callable[[str, bytes], None]
_CHUNK = 65536
# Waiters whose exit code was already reported: reaped in the background (a task the loop
# holds only weakly must be kept alive here).
_reaping: set[asyncio.Future[int]] = set()


def _reported_exit_code(fd: int) -> asyncio.Future[int | None]:
    """The byte the init writes on ``fd`` once the sandbox holds nothing but itself;
    ``None`` if the pipe closes without it (the set-up failed, or the init was killed)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int | None] = loop.create_future()

    def readable() -> None:
        try:
            data = os.read(fd, 1)
        except BlockingIOError:
            return
        loop.remove_reader(fd)
        if not future.done():
            future.set_result(data[0] if data else None)

    os.set_blocking(fd, False)
    loop.add_reader(fd, readable)
    return future


async def _reap(proc: asyncio.subprocess.Process) -> int:
    # The waiter is exiting (it has been killed): a loop that shuts down now (``asyncio.run``
    # cancels what is left and runs until it finishes) waits the few milliseconds for it
    # rather than leave a process unreaped.
    while True:
        try:
            return await proc.wait()
        except asyncio.CancelledError:
            continue


def _reap_in_background(proc: asyncio.subprocess.Process) -> None:
    reaped = asyncio.ensure_future(_reap(proc))
    _reaping.add(reaped)
    reaped.add_done_callback(_reaping.discard)


class ConfinedProcess:
    """A confined command that was started: its output streams, its exit, a kill switch.

    ``wait`` returns the shell-style exit code (128+N for a death by signal N) once the
    command has exited; by then the sandbox's bookkeeping (mask targets, pipes) is
    released and ``setup_error`` says whether the command never ran because the sandbox
    could not be entered.
    """

    def __init__(
        self,
        prepared: PreparedCommand,
        stdout: asyncio.StreamReader,
        stderr: asyncio.StreamReader,
        *,
        started: spawn_client.Started | None = None,
        proc: asyncio.subprocess.Process | None = None,
    ) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.backend = prepared.backend
        self.returncode: int | None = None
        self.setup_error: str | None = None
        self._prepared = prepared
        self._started = started
        self._proc = proc
        status_fd = prepared.status_fd
        self._reported = None if status_fd is None else _reported_exit_code(status_fd)
        # Forked route, once killed: a pidfd of the PID namespace's init (see ``kill``).
        self._init_pidfd: int | None = None

    async def wait(self) -> int:
        if self.returncode is not None:
            return self.returncode
        # The init's and the waiter's exits (address spaces, namespaces) are off the
        # critical path: the reported code comes before them.
        code = None if self._reported is None else await self._reported
        if code is None:
            if self._started is not None:
                code = await self._started.exited
            else:
                assert self._proc is not None
                code = shell_exit_code(await self._proc.wait())
        if self._init_pidfd is not None:
            await _until_gone(self._init_pidfd)
        # Another caller of wait() may have finished while this one awaited.
        return self._finish(code)

    def kill(self) -> None:
        """Kill the command and everything it started (idempotent)."""
        if self._started is not None:
            self._started.kill()
        elif self._proc is not None and self._proc.returncode is None:
            if self._init_pidfd is None and self.backend is BackendKind.NAMESPACES \
                    and self.returncode is None:
                # The init of the PID namespace dies with the waiter (PDEATHSIG), and
                # takes every process left in the namespace with it, but after the
                # waiter is reaped: ``wait`` waits for it too, so that nothing of the
                # command outlives ``run_confined``.
                self._init_pidfd = _init_pidfd(self._proc.pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)

    def _finish(self, code: int) -> int:
        if self.returncode is not None:
            return self.returncode
        self.returncode = code
        if self._proc is not None:
            # Descendants that outlive the command would keep the group's pipes open;
            # they are part of the command and die with it (its init has reported, so
            # its namespace is empty by now: nothing to wait for).
            self.kill()
            if self._proc.returncode is None:
                _reap_in_background(self._proc)
        if self._init_pidfd is not None:
            os.close(self._init_pidfd)
            self._init_pidfd = None
        self.setup_error = self._prepared.setup_error()
        # A session may run its next command soon: the mask targets linger for it, unless
        # this one never got into its sandbox.
        self._prepared.close(linger=self.setup_error is None)
        return code

    async def abandon(self) -> None:
        """Kill the command and wait for its end (on cancellation or an error).

        The shielded ``wait`` releases the bookkeeping once the sandbox is gone, also
        when this is cancelled again meanwhile (closing the pipes here could pull the
        status pipe from under its reader).
        """
        self.kill()
        with contextlib.suppress(BaseException):
            await asyncio.shield(self.wait())


def _init_pidfd(waiter: int) -> int | None:
    """A pidfd of the waiter's child, the PID namespace's init (None: already gone)."""
    try:
        with open(f"/proc/{waiter}/task/{waiter}/children", encoding="ascii") as f:
            children = f.read().split()
        return os.pidfd_open(int(children[0])) if children else None
    except (OSError, ValueError):
        return None


async def _until_gone(pidfd: int) -> None:
    """Until the process of ``pidfd`` has exited: an init's exit comes after every other
    process of its namespace has been killed and reaped."""
    loop = asyncio.get_running_loop()
    gone: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not gone.done():
            gone.set_result(None)

    loop.add_reader(pidfd, readable)
    try:
        await gone
    finally:
        loop.remove_reader(pidfd)


async def _read_pipe(fd: int) -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_CHUNK)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                 os.fdopen(fd, "rb", buffering=0))
    return reader


async def _write_pipe(fd: int, data: bytes) -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol,
                                                 os.fdopen(fd, "wb", buffering=0))
    transport.write(data)
    transport.close()  # after the buffer is flushed, or at once if the reader is gone


async def _start_via_server(conn: spawn_client.Connection, prepared: PreparedCommand,
                            stdin: bytes | None, stdin_fd: int | None = None
                            ) -> ConfinedProcess:
    assert prepared.child_setup is not None
    ours: list[int] = []
    theirs: list[int] = []
    try:
        if stdin_fd is not None:
            theirs.append(os.dup(stdin_fd))
        elif stdin is None:
            theirs.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
        else:
            stdin_r, stdin_w = os.pipe2(os.O_CLOEXEC)
            theirs.append(stdin_r)
            ours.append(stdin_w)
        for _ in range(2):
            read_end, write_end = os.pipe2(os.O_CLOEXEC)
            ours.append(read_end)
            theirs.append(write_end)
        started = await conn.start(prepared.child_setup, (theirs[0], theirs[1], theirs[2]))
    except BaseException:
        for fd in ours:
            os.close(fd)
        raise
    finally:
        for fd in theirs:
            os.close(fd)
    prepared.close_child_side()
    try:
        if stdin is not None:
            await _write_pipe(ours.pop(0), stdin)
        # Each pipe belongs to its transport once handed over (closed with it, also when
        # the connection is cancelled half-way).
        stdout = await _read_pipe(ours.pop(0))
        stderr = await _read_pipe(ours.pop(0))
    except BaseException:
        # Started, but nobody will hold the process: it must not run on unseen.
        started.kill()
        for fd in ours:
            os.close(fd)
        raise
    return ConfinedProcess(prepared, stdout, stderr, started=started)


async def _start_forked(prepared: PreparedCommand, stdin: bytes | None,
                        stdin_fd: int | None = None) -> ConfinedProcess:
    stdin_spec: int = asyncio.subprocess.DEVNULL
    if stdin_fd is not None:
        stdin_spec = stdin_fd
    elif stdin is not None:
        stdin_spec = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(
        *prepared.argv, cwd=prepared.cwd, env=prepared.env,
        stdin=stdin_spec,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True, close_fds=True, pass_fds=prepared.pass_fds,
        preexec_fn=prepared.preexec)
    prepared.close_child_side()
    if stdin is not None and proc.stdin is not None:
        proc.stdin.write(stdin)
        proc.stdin.close()  # the transport flushes what is buffered, then closes
    assert proc.stdout is not None
    assert proc.stderr is not None
    return ConfinedProcess(prepared, proc.stdout, proc.stderr, proc=proc)


async def warm_up() -> bool:
    """Start this loop's spawn server and wait until it serves; False if it cannot run
    here (commands are then forked from the session)."""
    try:
        await spawn_client.connection().until_ready()
    except spawn_client.ServerUnavailable:
        return False
    return True


async def start_confined(
    argv: list[str],
    *,
    cwd: str | os.PathLike[str],
    plan: ConfinementPlan,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    backend: BackendKind | None = None,
    spawn_server: bool = True,
    stdin_fd: int | None = None,
) -> ConfinedProcess:
    """Start ``argv`` under ``plan``; the environment is ``plan.env`` unless ``env`` is given.

    ``stdin_fd`` (instead of ``stdin``): a descriptor the command reads as its stdin (the
    read end of a pipe the caller keeps writing to); the caller still owns and closes it.

    With the own backend the command is started by this loop's spawn server once it is
    up (``warm_up``); the first command starts the server and, like every command when
    ``spawn_server=False``, is forked from this process.
    Raises ``UnenforceablePlan`` (no process is started).
    """
    prepared = prepare(argv, cwd=cwd, plan=plan, env=env, backend=backend, report_status=True)
    try:
        if (spawn_server and prepared.backend is BackendKind.NAMESPACES
                and prepared.child_setup is not None):
            with contextlib.suppress(spawn_client.ServerUnavailable):
                conn = spawn_client.connection()
                # A server still starting serves the next command, not this one.
                if conn.ready:
                    return await _start_via_server(conn, prepared, stdin, stdin_fd)
        return await _start_forked(prepared, stdin, stdin_fd)
    except BaseException:
        prepared.close()
        raise


async def _pump(stream: asyncio.StreamReader, name: str, sink: list[bytes],
                aggregated: list[bytes], on_output: OutputCallback | None) -> None:
    while chunk := await stream.read(_CHUNK):
        sink.append(chunk)
        aggregated.append(chunk)
        if on_output is not None:
            on_output(name, chunk)


async def run_confined(
    argv: list[str],
    *,
    cwd: str | os.PathLike[str],
    plan: ConfinementPlan,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    # The runtime's API takes a timeout per command, as Codex's exec does.
    timeout: float | None = None,  # noqa: ASYNC109
    on_output: OutputCallback | None = None,
    backend: BackendKind | None = None,
    spawn_server: bool = True,
) -> ConfinedResult:
    """Run ``argv`` under ``plan`` to completion (see ``start_confined``).

    Raises ``UnenforceablePlan`` (no process is started) and ``SandboxSetupError`` (the
    child could not enter the sandbox, so the command never ran).
    """
    started = time.monotonic()
    process = await start_confined(argv, cwd=cwd, plan=plan, env=env, stdin=stdin,
                                   backend=backend, spawn_server=spawn_server)
    out: list[bytes] = []
    err: list[bytes] = []
    both: list[bytes] = []
    timed_out = False

    async def communicate() -> int:
        await asyncio.gather(_pump(process.stdout, "stdout", out, both, on_output),
                             _pump(process.stderr, "stderr", err, both, on_output))
        return await process.wait()

    try:
        try:
            returncode = await asyncio.wait_for(communicate(), timeout)
        except TimeoutError:
            timed_out = True
            process.kill()
            returncode = await process.wait()
    except BaseException:
        await process.abandon()
        raise
    duration = time.monotonic() - started
    if process.setup_error is not None:
        raise SandboxSetupError(f"could not confine {argv[0]} ({process.setup_error})",
                                SETUP_TODO)
    return make_result(returncode, b"".join(out), b"".join(err), b"".join(both),
                       duration, timed_out, process.backend)
