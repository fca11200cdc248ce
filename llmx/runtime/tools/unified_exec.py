"""Commands that keep running: Codex's unified exec (``exec_command`` + ``write_stdin``).

An ``exec_command`` waits ``yield_time_ms`` (default 10 s, at most 30 s) for its command.
One that ends in that time answers as any command does. One still running is kept in the
session's :class:`ProcessStore` under a session id and the call answers with what it
printed so far and ``Process running with session ID N``; ``write_stdin`` then writes to
its stdin (a pipe it holds open) and, after its own yield time, answers with what was
printed since the last answer, until the process exits (``Process exited with code X``).

A kept process is confined exactly as when it started (it was started by the same
spawner, the sandbox's); an interrupt does not stop it (as in Codex), the end of the
session does: :meth:`ProcessStore.close` kills every one and waits for it. Each chunk of
output is an ``exec_command_output_delta`` event of the call that started it, from its
first byte, and its end is the ``CommandExecution`` item's completion, whenever that
comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from llmx.runtime.tools.shell import CommandResult, RunningCommand, Spawner

DEFAULT_YIELD_MS = 10_000
MAX_YIELD_MS = 30_000
MIN_YIELD_MS = 250
# write_stdin: a write waits 250 ms by default; an empty poll 5 s to 300 s.
WRITE_YIELD_MS = 250
POLL_MIN_MS = 5_000
POLL_MAX_MS = 300_000
_CHUNK = 8192

# Told each chunk as it arrives: (stream name, bytes).
ChunkSink = Callable[[str, bytes], Awaitable[None]]


class ExecSession:
    """One kept (or not yet kept) process, its stdin and its unread output."""

    def __init__(self, session_id: int, process: RunningCommand, stdin_w: int | None,
                 on_chunk: ChunkSink | None) -> None:
        self.session_id = session_id
        self.process = process
        self.started = time.monotonic()
        self.exit_code: int | None = None
        self._stdin_w = stdin_w
        self._unread = bytearray()
        self.output: list[bytes] = []
        self.streams: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        self._on_chunk = on_chunk
        self._pumps = [asyncio.ensure_future(self._pump(process.stdout, "stdout")),
                       asyncio.ensure_future(self._pump(process.stderr, "stderr"))]
        self._exited = asyncio.ensure_future(self._wait())
        # For a kept process: the task that records its end.
        self.finisher: asyncio.Future[None] | None = None

    async def _pump(self, reader: asyncio.StreamReader | None, name: str) -> None:
        if reader is None:
            return
        while chunk := await reader.read(_CHUNK):
            self._unread += chunk
            self.output.append(chunk)
            self.streams[name].append(chunk)
            if self._on_chunk is not None:
                await self._on_chunk(name, chunk)

    async def _wait(self) -> int:
        code = await self.process.wait()
        # What the process printed before it ended is read before its end is told.
        await asyncio.gather(*self._pumps, return_exceptions=True)
        self.exit_code = 128 - code if code < 0 else code
        self._close_stdin()
        return self.exit_code

    @property
    def running(self) -> bool:
        return not self._exited.done()

    @property
    def exited(self) -> asyncio.Future[int]:
        return self._exited

    async def until(self, yield_ms: int) -> bool:
        """Wait up to ``yield_ms`` for the process to end; True if it has."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._exited), yield_ms / 1000)
        return self._exited.done()

    def take_output(self) -> str:
        data, self._unread = bytes(self._unread), bytearray()
        return data.decode("utf-8", errors="replace")

    def write(self, chars: str) -> str | None:
        """Write ``chars`` to the process's stdin; why not, if it cannot be."""
        if self._stdin_w is None:
            return "stdin is closed for this session"
        data = chars.encode()
        try:
            while data:
                written = os.write(self._stdin_w, data)
                data = data[written:]
        except BlockingIOError:
            return "the process is not reading its stdin (its pipe is full)"
        except OSError as exc:
            return f"cannot write to the process: {exc.strerror or exc}"
        return None

    def _close_stdin(self) -> None:
        if self._stdin_w is not None:
            with contextlib.suppress(OSError):
                os.close(self._stdin_w)
            self._stdin_w = None

    async def kill(self) -> None:
        """Kill the process and what it started, and wait for its end."""
        self.process.kill()
        with contextlib.suppress(Exception):
            await asyncio.shield(self._exited)
        self._close_stdin()


class ProcessStore:
    """The processes one session keeps; they end with it."""

    def __init__(self) -> None:
        self._sessions: dict[int, ExecSession] = {}
        self._next_id = 1000
        self._closed = False

    async def start(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str],
                    spawner: Spawner, on_chunk: ChunkSink | None) -> ExecSession:
        """Start ``argv`` with a stdin pipe; raises ``OSError`` when it cannot start."""
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        try:
            process = await spawner(argv, cwd, env, stdin_fd=read_end)
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        os.set_blocking(write_end, False)
        session_id = self._next_id
        self._next_id += 1
        return ExecSession(session_id, process, write_end, on_chunk)

    def keep(self, session: ExecSession) -> None:
        self._sessions[session.session_id] = session

    def get(self, session_id: int) -> ExecSession | None:
        return self._sessions.get(session_id)

    def forget(self, session: ExecSession) -> None:
        self._sessions.pop(session.session_id, None)

    async def close(self) -> None:
        """Kill every kept process and wait for each (the session is ending)."""
        self._closed = True
        sessions, self._sessions = list(self._sessions.values()), {}
        await asyncio.gather(*(session.kill() for session in sessions))
        # Their ends are recorded before the session's log closes.
        await asyncio.gather(*(session.finisher for session in sessions
                               if session.finisher is not None), return_exceptions=True)


def yield_ms(value: object, *, default: int = DEFAULT_YIELD_MS) -> int:
    """``yield_time_ms`` as Codex bounds it for ``exec_command``."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return default
    return max(MIN_YIELD_MS, min(int(value), MAX_YIELD_MS))


def write_yield_ms(value: object, *, polling: bool) -> int:
    """``write_stdin``'s wait: 250 ms after a write (at most 30 s), 5 to 300 s for a poll."""
    if polling:
        wanted = int(value) if isinstance(value, int | float) and \
            not isinstance(value, bool) else POLL_MIN_MS
        return max(POLL_MIN_MS, min(wanted, POLL_MAX_MS))
    return yield_ms(value, default=WRITE_YIELD_MS)


class Backgrounded:
    """An ``exec_command`` whose process outlived its yield time and is kept."""

    def __init__(self, session: ExecSession, output: str, wall_seconds: float) -> None:
        self.session_id = session.session_id
        self.output = output
        self.wall_seconds = wall_seconds


def running_output(*, wall_seconds: float, session_id: int, output: str,
                   max_tokens: int | None) -> str:
    """What the model is told of a process still running (Codex's unified exec form)."""
    from llmx.runtime.tools.output import (
        DEFAULT_MAX_OUTPUT_TOKENS,
        approx_tokens,
        truncate_middle,
    )

    budget = DEFAULT_MAX_OUTPUT_TOKENS if max_tokens is None else max_tokens
    return (
        f"Chunk ID: {os.urandom(3).hex()}\n"
        f"Wall time: {wall_seconds:.4f} seconds\n"
        f"Process running with session ID {session_id}\n"
        f"Original token count: {approx_tokens(output)}\n"
        f"Output:\n{truncate_middle(output, budget)}"
    )


# How long a new process is watched for an early end before its start is told: Codex's
# unified exec waits as long, and a sandboxed process that ended by then with a sandbox
# denial's output is reported as a failed start, not as a command that ran.
EARLY_EXIT_MS = 150


class StartCheck:
    """What ``run_or_keep`` asks of the caller once the early-exit window is over."""

    def __init__(self, denied: Callable[[CommandResult], bool],
                 started: Callable[[], Awaitable[None]]) -> None:
        # A process that ended within the window: was it the sandbox's refusal?
        self.denied = denied
        # Otherwise: the start is told (the caller's item begins) before anything else.
        self.started = started


class DeniedStart:
    """A process that ended within the early-exit window, refused by the sandbox."""

    def __init__(self, result: CommandResult) -> None:
        self.result = result


async def run_or_keep(
    store: ProcessStore,
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    spawner: Spawner,
    wait_ms: int,
    on_chunk: ChunkSink | None,
    on_end: Callable[[CommandResult], Awaitable[None]],
    start_check: StartCheck | None = None,
    on_abort: Callable[[CommandResult], Awaitable[None]] | None = None,
) -> CommandResult | Backgrounded | DeniedStart:
    """Run ``argv`` for up to ``wait_ms``: its result if it ended, else it is kept in
    ``store`` and ``on_end`` is called with its result when it ends. Cancelled while it
    waits, the process is killed (an interrupt of the call), as a command's always was,
    and ``on_abort`` is told what it had printed by then and how long it ran, before the
    cancellation goes on.

    With ``start_check``, the process is first watched for ``EARLY_EXIT_MS``: one that
    ended by then and that ``start_check.denied`` calls refused is a ``DeniedStart``;
    otherwise ``start_check.started`` runs before the rest of the wait."""
    # Every chunk is an event as it comes, also before the process is kept, so a client
    # sees a command's output while it runs (Codex 0.171 streams it so).
    session = await store.start(argv, cwd, env, spawner, on_chunk)
    try:
        if start_check is None:
            ended = await session.until(wait_ms)
        else:
            ended = await session.until(min(EARLY_EXIT_MS, wait_ms))
            if ended and start_check.denied(result_of(session)):
                return DeniedStart(result_of(session))
            await start_check.started()
            if not ended:
                remaining = wait_ms - (time.monotonic() - session.started) * 1000
                ended = await session.until(max(0, int(remaining)))
    except asyncio.CancelledError:
        await session.kill()
        if on_abort is not None:
            await on_abort(result_of(session))
        raise
    except BaseException:
        await session.kill()
        raise
    wall = time.monotonic() - session.started
    if ended:
        return result_of(session)
    store.keep(session)

    async def finish() -> None:
        # Kept until write_stdin has told its end; its item completes when it ends.
        await asyncio.shield(session.exited)
        await on_end(result_of(session))

    session.finisher = asyncio.ensure_future(finish())
    return Backgrounded(session, session.take_output(), wall)


def result_of(session: ExecSession) -> CommandResult:
    """The result of an ended process, as ``run_command`` reports one."""
    stderr = b"".join(session.streams["stderr"])
    aggregated = b"".join(session.output)
    setup_error = session.process.setup_error
    if setup_error is not None:
        note = f"llmx: could not enter the sandbox ({setup_error})\n".encode()
        stderr += note
        aggregated += note
    return CommandResult(
        exit_code=session.exit_code if session.exit_code is not None else -1,
        stdout=b"".join(session.streams["stdout"]).decode("utf-8", errors="replace"),
        stderr=stderr.decode("utf-8", errors="replace"),
        aggregated_output=aggregated.decode("utf-8", errors="replace"),
        wall_seconds=time.monotonic() - session.started,
    )
