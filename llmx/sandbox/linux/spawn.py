"""The async API the runtime uses: run one command confined, stream its output, kill on cancel.

The command runs in its own process group; cancelling the awaiting task (how the runtime
interrupts a turn) or hitting the timeout kills the whole group with ``SIGKILL`` and reaps
it before the cancellation propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping

from llmx.sandbox.linux.backends import BackendKind
from llmx.sandbox.linux.prepare import prepare
from llmx.sandbox.linux.result import ConfinedResult, SandboxSetupError, make_result
from llmx.sandbox.plan import ConfinementPlan

OutputCallback = Callable[[str, bytes], None]
_CHUNK = 65536
# Waiters whose exit code was already reported: reaped in the background (a task the loop
# holds only weakly must be kept alive here).
_reaping: set[asyncio.Future[int]] = set()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


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
) -> ConfinedResult:
    """Run ``argv`` under ``plan``; the environment is ``plan.env`` unless ``env`` is given.

    Raises ``UnenforceablePlan`` (no process is started) and ``SandboxSetupError`` (the
    child could not enter the sandbox, so the command never ran).
    """
    prepared = prepare(argv, cwd=cwd, plan=plan, env=env, backend=backend, report_status=True)
    started = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            *prepared.argv, cwd=prepared.cwd, env=prepared.env,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True, close_fds=True, pass_fds=prepared.pass_fds,
            preexec_fn=prepared.preexec)
    except BaseException:
        prepared.close()
        raise
    prepared.close_child_side()
    out: list[bytes] = []
    err: list[bytes] = []
    both: list[bytes] = []
    timed_out = False
    status_fd = prepared.status_fd
    reported = None if status_fd is None else _reported_exit_code(status_fd)
    returncode: int | None = None

    def stop_listening() -> None:
        if status_fd is not None:
            asyncio.get_running_loop().remove_reader(status_fd)

    async def communicate() -> None:
        nonlocal returncode
        assert proc.stdout is not None
        assert proc.stderr is not None
        if stdin is not None and proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                proc.stdin.write(stdin)
                await proc.stdin.drain()
            proc.stdin.close()
        await asyncio.gather(_pump(proc.stdout, "stdout", out, both, on_output),
                             _pump(proc.stderr, "stderr", err, both, on_output))
        # The init's and the waiter's exits (address spaces, namespaces) are off the
        # critical path: the reported code comes before them.
        returncode = None if reported is None else await reported
        if returncode is None:
            returncode = await proc.wait()

    try:
        try:
            await asyncio.wait_for(communicate(), timeout)
        except TimeoutError:
            timed_out = True
            _kill_group(proc.pid)
            returncode = await proc.wait()
        stop_listening()
        # Descendants that outlive the command would keep the group's pipes open; they
        # are part of the command and die with it.
        _kill_group(proc.pid)
        if proc.returncode is None:
            _reap_in_background(proc)
    except BaseException:
        stop_listening()
        _kill_group(proc.pid)
        with contextlib.suppress(BaseException):
            await asyncio.shield(proc.wait())
        prepared.close()
        raise
    duration = time.monotonic() - started
    failure = prepared.setup_error()
    prepared.close()
    if failure is not None:
        raise SandboxSetupError(f"could not confine {argv[0]} ({failure})")
    assert returncode is not None
    return make_result(returncode, b"".join(out), b"".join(err), b"".join(both),
                       duration, timed_out, prepared.backend)
