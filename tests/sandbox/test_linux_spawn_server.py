"""The own backend's spawn server: the route it gives, its lifetime, its failures, its wire.

Real processes throughout: the server is the interpreter ``spawn_client`` starts, the
sandboxes are real namespaces, and what the tests assert about processes they read from
the host's ``/proc``. Waiting for a process to go is bounded by a deadline that only
guards against a hang (nothing here measures speed).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.linux_sandbox import alive, protected, workspace_plan
from support.waits import WAIT_SECONDS, wait_readable, within

from llmx.sandbox.linux import spawn_client, spawn_wire
from llmx.sandbox.linux.backends import BackendKind, backend_status
from llmx.sandbox.linux.prepare import prepare
from llmx.sandbox.linux.spawn import run_confined, warm_up

PROJECT = Path(__file__).resolve().parents[2]
_OWN = backend_status(BackendKind.NAMESPACES)
pytestmark = pytest.mark.skipif(not _OWN.available,
                                reason=f"namespaces unavailable: {_OWN.reason}")
# Guards a wait for a process to go against a hang; never a measure of speed.
_DEADLINE = 60.0
# Every server the tests found serving them: all must be gone after the module.
_servers_seen: set[int] = set()


def _status(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return fields


def _parent(pid: int) -> int:
    return int(_status(pid)["PPid"])


def _cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def _running_with(token: str) -> list[int]:
    """Live processes with ``token`` as one of their arguments."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = _cmdline(int(entry.name)).split(b"\0")
        except OSError:
            continue
        if token.encode() in arguments and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + _DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} (still not so after {_DEADLINE:.0f} s)")
        time.sleep(0.01)


def _sleeper(token: str) -> int:
    found: list[int] = []

    def started() -> bool:
        found[:] = _running_with(token)
        return bool(found)

    _wait_for(started, f"no process runs sleep {token}")
    assert len(found) == 1, found
    return found[0]


def _token(name: str) -> str:
    # ``sleep`` takes it as a number of seconds: digits, unique to this process and test.
    return f"{os.getpid()}{sum(map(ord, name))}{time.monotonic_ns() % 100000}"


def _sandbox_chain(token: str) -> tuple[int, int, int]:
    """(command, init, init's host parent) of the sandbox running ``sleep token``."""
    command = _sleeper(token)
    init = _parent(command)
    # Inside its namespace the command is PID 2 and the init PID 1.
    assert _status(command)["NSpid"].split()[-1] == "2", _status(command)
    assert _status(init)["NSpid"].split()[-1] == "1", _status(init)
    return command, init, _parent(init)


def _is_server(pid: int) -> bool:
    # Its program imports the server's module (this test file's name holds the word too).
    return b"llmx.sandbox.linux.spawn_server" in _cmdline(pid)


def _record_server(pid: int) -> int:
    assert _is_server(pid), _cmdline(pid)
    _servers_seen.add(pid)
    return pid


async def _running_sleep(token: str, **kwargs: object) -> asyncio.Task[object]:
    plan = workspace_plan()
    task: asyncio.Task[object] = asyncio.create_task(run_confined(
        ["sleep", token], cwd=Path.cwd(), plan=plan, backend=BackendKind.NAMESPACES,
        **kwargs))  # type: ignore[arg-type]
    await asyncio.to_thread(_sleeper, token)
    return task


async def _cancel(task: asyncio.Task[object]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await within(task, "the cancelled command to end")


async def _current_server() -> int:
    """The host pid of this loop's spawn server (found through a sandbox it started)."""
    token = _token("current-server")
    task = await _running_sleep(token)
    try:
        _, _, server = _sandbox_chain(token)
    finally:
        await _cancel(task)
    return _record_server(server)


@pytest.fixture(scope="module", autouse=True)
def _no_server_left() -> Iterator[None]:
    yield
    spawn_client._close_all()
    _wait_for(lambda: not any(map(alive, _servers_seen)),
              f"spawn servers {sorted(filter(alive, _servers_seen))} outlived their sessions")


@pytest.mark.asyncio
async def test_after_warm_up_the_server_clones_the_init(tmp_path: Path) -> None:
    assert await within(warm_up(), "the spawn server")
    token = _token("server-route")
    task = await _running_sleep(token)
    try:
        _, init, server = _sandbox_chain(token)
        # PID 1 straight under the server: no waiter, nothing forked from this process.
        _record_server(server)
        assert server != os.getpid()
        assert _parent(server) != os.getpid()
        assert init != os.getpid()
    finally:
        await _cancel(task)
    _wait_for(lambda: not _running_with(token), f"sleep {token} outlived its cancellation")


@pytest.mark.asyncio
async def test_forked_route_goes_through_a_waiter_of_this_process() -> None:
    assert await within(warm_up(), "the spawn server")
    token = _token("forked-route")
    task = await _running_sleep(token, spawn_server=False)
    try:
        _, init, waiter = _sandbox_chain(token)
        # The waiter is a fork of this process (the same program), not a server.
        assert not _is_server(waiter)
        assert _parent(waiter) == os.getpid()
        assert _cmdline(waiter) == _cmdline(os.getpid())
        assert init != waiter
    finally:
        await _cancel(task)


@pytest.mark.asyncio
async def test_server_exits_when_the_connection_closes(tmp_path: Path) -> None:
    assert await within(warm_up(), "the spawn server")
    server = await _current_server()
    assert alive(server)
    spawn_client.connection().close()
    _wait_for(lambda: not alive(server), f"spawn server {server} outlived its connection")
    # The loop gets a new server (forked meanwhile): commands still run.
    result = await within(run_confined(["echo", "again"], cwd=tmp_path, plan=workspace_plan(),
                                       backend=BackendKind.NAMESPACES), "the confined command")
    assert (result.exit_code, result.stdout) == (0, b"again\n")


_SESSION = """
import asyncio, os, sys
from llmx.sandbox.linux.backends import BackendKind
from llmx.sandbox.linux.spawn import start_confined, warm_up
from llmx.sandbox.plan import ConfinementPlan

async def main():
    if not await warm_up():
        sys.exit("no spawn server")
    plan = ConfinementPlan(env={"PATH": "/usr/bin:/bin"})
    # The token is not among this process's own arguments: only the sleeper holds it.
    await start_confined(["sleep", os.environ["LLMX_SLEEP_TOKEN"]], cwd="/", plan=plan,
                         backend=BackendKind.NAMESPACES)
    print("ready", flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def test_server_and_sandbox_die_with_the_session_process() -> None:
    token = _token("session-death")
    session = subprocess.Popen([sys.executable, "-c", _SESSION], cwd=PROJECT,
                               env={**os.environ, "LLMX_SLEEP_TOKEN": token},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert session.stdout is not None
        wait_readable(session.stdout.fileno(), "the session process to say ready")
        line = session.stdout.readline()
        assert line == b"ready\n", session.stderr.read() if session.stderr else line
        command, init, server = _sandbox_chain(token)
        _record_server(server)
        assert _parent(server) != session.pid
        session.kill()
        session.wait(timeout=WAIT_SECONDS)
    finally:
        session.kill()
        session.communicate(timeout=WAIT_SECONDS)
    _wait_for(lambda: not any(map(alive, (command, init, server))),
              "the spawn server or its sandbox outlived the session process")


@pytest.mark.asyncio
async def test_server_killed_while_idle_the_next_command_runs(tmp_path: Path) -> None:
    assert await within(warm_up(), "the spawn server")
    server = await _current_server()
    os.kill(server, signal.SIGKILL)
    _wait_for(lambda: not alive(server), f"spawn server {server} survived SIGKILL")
    result = await within(run_confined(["sh", "-c", "echo after; exit 4"], cwd=tmp_path,
                                       plan=workspace_plan(), backend=BackendKind.NAMESPACES),
                          "the confined command")
    assert (result.exit_code, result.stdout) == (4, b"after\n")
    # And the loop is served again once a new server is up.
    assert await within(warm_up(), "the spawn server")
    assert await _current_server() != server


@pytest.mark.asyncio
async def test_server_killed_while_a_command_runs(tmp_path: Path) -> None:
    assert await within(warm_up(), "the spawn server")
    token = _token("killed-mid-command")
    task = await _running_sleep(token)
    command, init, server = _sandbox_chain(token)
    _record_server(server)
    os.kill(server, signal.SIGKILL)
    result = await within(task, "the command to end")
    # Its init died of the server's death signal (SIGKILL), so did the command with it.
    assert result.exit_code == 128 + signal.SIGKILL, result.aggregated
    assert not result.timed_out
    _wait_for(lambda: not any(map(alive, (command, init))),
              "the sandbox outlived its spawn server")


@pytest.mark.asyncio
async def test_large_environment_travels_in_a_memfd(tmp_path: Path) -> None:
    assert await within(warm_up(), "the spawn server")
    big = "".join(chr(0x41 + i % 26) for i in range(40 * 1024)) + "-end"
    plan = workspace_plan(env={"LLMX_BIG_VARIABLE": big})
    setup = prepare(["true"], cwd=tmp_path, plan=plan, backend=BackendKind.NAMESPACES)
    try:
        assert setup.child_setup is not None
        encoded = spawn_wire.encode_request(spawn_wire.SpawnRequest(1, 0, 1, 2,
                                                                    setup.child_setup))
        assert encoded.memfd is not None, "the request fits inline: the memfd is not tested"
        os.close(encoded.memfd)
    finally:
        setup.close()
    result = await within(run_confined(["printenv", "LLMX_BIG_VARIABLE"], cwd=tmp_path, plan=plan,
                                       backend=BackendKind.NAMESPACES), "the confined command")
    assert result.exit_code == 0, result.aggregated
    assert result.stdout == big.encode() + b"\n"


@pytest.mark.asyncio
async def test_non_ascii_workspace_and_argv(tmp_path: Path) -> None:
    assert await within(warm_up(), "the spawn server")
    ws = tmp_path / "wörkspace ☃ 日本"
    ws.mkdir()
    name = "héllo ✓ файл"
    result = await within(run_confined(["sh", "-c", 'pwd; printf "%s\\n" "$1" > "$1"', "sh", name],
                                       cwd=ws, plan=workspace_plan(protected(ws)),
                                       backend=BackendKind.NAMESPACES), "the confined command")
    assert result.exit_code == 0, result.aggregated
    assert result.stdout == f"{ws}\n".encode()
    assert (ws / name).read_text() == f"{name}\n"


@pytest.mark.asyncio
async def test_one_mebibyte_of_stdin_comes_back_whole(tmp_path: Path) -> None:
    assert await within(warm_up(), "the spawn server")
    data = os.urandom(1 << 20)
    result = await within(run_confined(["cat"], cwd=tmp_path, plan=workspace_plan(), stdin=data,
                                       backend=BackendKind.NAMESPACES), "the confined command")
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout) == len(data)
    assert result.stdout == data


@pytest.mark.asyncio
async def test_concurrent_commands_through_one_server(tmp_path: Path) -> None:
    assert await within(warm_up(), "the spawn server")
    server = spawn_client.connection()
    results = await within(asyncio.gather(*(
        run_confined(["sh", "-c", f"echo command-{n}; echo err-{n} >&2; exit {n + 1}"],
                     cwd=tmp_path, plan=workspace_plan(), backend=BackendKind.NAMESPACES)
        for n in range(8))), "eight confined commands")
    for n, result in enumerate(results):
        assert result.exit_code == n + 1, result.aggregated
        assert result.stdout == f"command-{n}\n".encode()
        assert result.stderr == f"err-{n}\n".encode()
    # All of them went to the one server, which still serves.
    assert spawn_client.connection() is server
    assert not server.closed


_FD_FIELDS = ("error_fd", "status_fd", "landlock_ruleset")


def _inode(fd: int) -> tuple[int, int]:
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


@pytest.mark.parametrize("size", ["inline", "memfd"])
def test_request_round_trip_through_a_socket(size: str, tmp_path: Path) -> None:
    env = {"LLMX_PADDING": "p" * (40 * 1024)} if size == "memfd" else {"LLMX_SMALL": "ü"}
    (tmp_path / ".git").mkdir()
    prepared = prepare(["echo", "x"], cwd=tmp_path, plan=workspace_plan(protected(tmp_path),
                                                                        env=env),
                       backend=BackendKind.NAMESPACES, report_status=True)
    stdin_r, stdin_w = os.pipe()
    out_r, out_w = os.pipe()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    received: list[int] = []
    try:
        setup = prepared.child_setup
        assert setup is not None
        assert setup.status_fd is not None
        request = spawn_wire.SpawnRequest(41, stdin_r, out_w, out_w, setup)
        encoded = spawn_wire.encode_request(request)
        assert (encoded.memfd is not None) is (size == "memfd")
        socket.send_fds(ours, [encoded.message], encoded.fds)
        if encoded.memfd is not None:
            os.close(encoded.memfd)
        message, received = spawn_wire.receive(theirs)
        # The memfd is taken off the list (and closed) by the decoding.
        decoded = spawn_wire.decode_request(message, received)
        assert len(received) == 3 + sum(getattr(setup, name) is not None for name in _FD_FIELDS)
        assert decoded.request_id == 41
        for name in type(setup).__slots__:
            sent, got = getattr(setup, name), getattr(decoded.setup, name)
            if name in _FD_FIELDS and sent is not None:
                assert got != sent, name
                assert _inode(got) == _inode(sent), name
            else:
                assert got == sent, name
        # The descriptors are the same pipes: what goes in one end comes out of the other.
        os.write(stdin_w, b"to the command")
        assert os.read(decoded.stdin, 100) == b"to the command"
        os.write(decoded.stdout, b"from the command")
        assert os.read(out_r, 100) == b"from the command"
        assert _inode(decoded.stderr) == _inode(out_w)
    finally:
        for fd in (*received, stdin_r, stdin_w, out_r, out_w):
            os.close(fd)
        ours.close()
        theirs.close()
        prepared.close()


def test_cut_short_messages_are_protocol_errors() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pipes = [os.pipe() for _ in range(5)]
    try:
        # Longer than any message the other end may send: the kernel truncates it.
        ours.send(spawn_wire.REQUEST + b"x" * (spawn_wire.MAX_INLINE + 1024))
        with pytest.raises(spawn_wire.ProtocolError, match="cut short"):
            spawn_wire.receive(theirs)
        # More descriptors than a message may carry: the surplus is cut (and none leak).
        before = len(os.listdir("/proc/self/fd"))
        socket.send_fds(ours, [b"R"], [fd for pair in pipes for fd in pair])
        with pytest.raises(spawn_wire.ProtocolError, match="cut short"):
            spawn_wire.receive(theirs)
        assert len(os.listdir("/proc/self/fd")) == before
        # A body cut short is refused as such too, on both sides.
        body = spawn_wire.encode_reply(spawn_wire.EXITED, 3, 0)
        with pytest.raises(spawn_wire.ProtocolError):
            spawn_wire.decode_reply(body[:-2])
        with pytest.raises(spawn_wire.ProtocolError):
            spawn_wire.decode_request(spawn_wire.REQUEST + b"\xe3\x02", [0, 1, 2])
    finally:
        for pair in pipes:
            for fd in pair:
                os.close(fd)
        ours.close()
        theirs.close()


@pytest.fixture
def fresh_spawn_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No connection of this process's (and none found unusable) for the test's length."""
    monkeypatch.setattr(spawn_client.Connection, "unusable", False)
    own: dict[asyncio.AbstractEventLoop, spawn_client.Connection] = {}
    monkeypatch.setattr(spawn_client, "_connections", own)
    yield
    for conn in own.values():
        conn.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("interpreter", ["/nonexistent/llmx-python", "/bin/false"],
                         ids=["missing", "exits-at-once"])
async def test_without_a_server_commands_are_forked_and_confined(
        interpreter: str, tmp_path: Path, fresh_spawn_client: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The environment cannot run the server: no interpreter there, or one that exits.
    monkeypatch.setattr(sys, "executable", interpreter)
    assert await within(warm_up(), "the spawn server") is False
    assert spawn_client.Connection.unusable
    code = "echo $$; touch inside && touch /etc/llmx-spawn-server-probe; echo $?"
    plan = workspace_plan(protected(tmp_path))
    result = await within(run_confined(["sh", "-c", code], cwd=tmp_path, plan=plan,
                                       backend=BackendKind.NAMESPACES), "the confined command")
    assert result.exit_code == 0, result.aggregated
    # PID 2 of its own namespace, the workspace writable, the rest of the host read-only.
    pid, touched = result.stdout.decode().split()
    assert pid == "2"
    assert touched != "0"
    assert (tmp_path / "inside").exists()
    assert not await asyncio.to_thread(os.path.exists, "/etc/llmx-spawn-server-probe")


def _children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and alive(int(entry.name)):
            try:
                if _parent(int(entry.name)) == pid:
                    found.append(int(entry.name))
            except (OSError, KeyError, ValueError):
                continue
    return found


@pytest.mark.asyncio
@pytest.mark.parametrize("when", ["before-the-answer", "with-the-answer", "connecting-pipes"])
async def test_cancelled_while_starting_nothing_stays(when: str, tmp_path: Path) -> None:
    assert await within(warm_up(), "the spawn server")
    server = await _current_server()
    conn = spawn_client.connection()
    token = _token(f"cancelled-{when}")
    task = asyncio.create_task(run_confined(["sleep", token], cwd=tmp_path,
                                            plan=workspace_plan(),
                                            backend=BackendKind.NAMESPACES))
    # One turn of the loop: the request is sent, the task awaits the server's answer.
    await asyncio.sleep(0)
    if when == "with-the-answer":
        # The answer has come in (its reader ran) but the task has not resumed yet: it
        # would do so on the loop's next turn, after this coroutine. (Turn by turn on
        # purpose: an event would let the task resume first.)
        while not conn._running:  # noqa: ASYNC110
            await asyncio.sleep(0)
    if when == "connecting-pipes":
        # One turn later the task has resumed with the answer and awaits the connection
        # of its output pipes to the loop.
        while not conn._running:  # noqa: ASYNC110
            await asyncio.sleep(0)
        await asyncio.sleep(0)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await within(task, "the cancelled command to end")
    # The server takes requests in order: once it answered this one, it had cloned the
    # cancelled command's init.
    result = await within(run_confined(["true"], cwd=tmp_path, plan=workspace_plan(),
                                       backend=BackendKind.NAMESPACES), "the confined command")
    assert result.exit_code == 0
    assert spawn_client.connection() is conn
    _wait_for(lambda: not _children(server),
              f"a sandbox whose start was cancelled still runs: {_children(server)}")
    assert _running_with(token) == []
