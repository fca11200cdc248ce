"""Running one shell command for the model: its own process group, live output, cleanup.

The command runs in a new session (so a new process group); cancelling the awaiting task
kills the whole group, which is what an interrupt must do to ``sleep 30 &``-style
children too. How the process is confined is not decided here: the caller hands in a
``Spawner`` (the sandbox backend for sandboxed runs, the plain one for escalated runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import msgspec

READ_CHUNK = 8192


class RunningCommand(Protocol):
    """A started command: its output, its exit, and a way to kill all of it."""

    @property
    def stdout(self) -> asyncio.StreamReader | None: ...

    @property
    def stderr(self) -> asyncio.StreamReader | None: ...

    @property
    def returncode(self) -> int | None: ...

    @property
    def setup_error(self) -> str | None:
        """Once waited for: why the sandbox could not be entered (the command never ran)."""
        ...

    async def wait(self) -> int:
        """The exit code: negative (``subprocess``) or 128+N (a shell) for signal N."""
        ...

    def kill(self) -> None:
        """Kill the command and whatever it started; nothing once it has exited."""
        ...


class Spawner(Protocol):
    """Starts ``argv`` with pipes for stdout/stderr, in a new session; stdin is empty
    unless ``stdin_fd`` (the read end of a pipe the caller keeps writing to) is given."""

    async def __call__(
        self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], *,
        stdin_fd: int | None = None,
    ) -> RunningCommand: ...


class GroupProcess:
    """An ``asyncio`` process leading its own process group, killed as a group."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.stdout = process.stdout
        self.stderr = process.stderr
        self.setup_error: str | None = None

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    async def wait(self) -> int:
        return await self._process.wait()

    def kill(self) -> None:
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)


async def spawn_unconfined(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str], *, stdin_fd: int | None = None,
) -> RunningCommand:
    return GroupProcess(await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL if stdin_fd is None else stdin_fd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    ))


class OutputStream:
    STDOUT = "stdout"
    STDERR = "stderr"


OutputSink = Callable[[str, bytes], Awaitable[None]]


class CommandResult(msgspec.Struct, frozen=True):
    exit_code: int
    stdout: str
    stderr: str
    # Both streams interleaved in arrival order: what a terminal would have shown.
    aggregated_output: str
    wall_seconds: float


def shell_argv(cmd: str, *, shell: str | None = None, login: bool = True) -> list[str]:
    """``[shell, "-lc", cmd]`` as Codex builds it (``-c`` when ``login`` is false)."""
    program = shell or _default_shell()
    return [program, "-lc" if login else "-c", cmd]


def _default_shell() -> str:
    for candidate in ("/bin/bash", shutil.which("bash"), "/bin/sh"):
        if candidate and os.path.exists(candidate):
            return candidate
    return "/bin/sh"


async def run_command(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    spawner: Spawner,
    on_output: OutputSink | None = None,
) -> CommandResult:
    """Run to completion; on cancellation kill the process group, then re-raise."""
    started = time.monotonic()
    process = await spawner(argv, cwd, env)
    stdout: list[bytes] = []
    stderr: list[bytes] = []
    aggregated: list[bytes] = []

    async def pump(reader: asyncio.StreamReader | None, name: str, into: list[bytes]) -> None:
        if reader is None:
            return
        while chunk := await reader.read(READ_CHUNK):
            into.append(chunk)
            aggregated.append(chunk)
            if on_output is not None:
                await on_output(name, chunk)

    try:
        await asyncio.gather(
            pump(process.stdout, OutputStream.STDOUT, stdout),
            pump(process.stderr, OutputStream.STDERR, stderr),
        )
        exit_code = await process.wait()
    except BaseException:
        process.kill()
        with contextlib.suppress(ProcessLookupError, asyncio.CancelledError):
            await asyncio.shield(process.wait())
        raise
    if exit_code < 0:
        # Killed by a signal: report it as a shell would (128 + signal number).
        exit_code = 128 - exit_code
    if process.setup_error is not None:
        # The command never ran: say why where its output would have been.
        note = f"llmx: could not enter the sandbox ({process.setup_error})\n".encode()
        stderr.append(note)
        aggregated.append(note)
    return CommandResult(
        exit_code=exit_code,
        stdout=_decode(stdout),
        stderr=_decode(stderr),
        aggregated_output=_decode(aggregated),
        wall_seconds=time.monotonic() - started,
    )


def _decode(chunks: list[bytes]) -> str:
    return b"".join(chunks).decode("utf-8", errors="replace")
