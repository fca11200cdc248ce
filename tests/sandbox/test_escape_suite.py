"""The escape suite: every attempt to leave the sandbox is refused, on every backend.

One sandboxed Python probe per route (each backend; the own backend both through the
session's spawn server and forked from the session) tries all attempts (see
``probes/escape_probe.py``) and prints a verdict per attempt; each verdict is asserted by
its own test. The host side is checked too: nothing outside the writable roots changed.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.linux_sandbox import (
    PROBES,
    PYTHON,
    ROUTES,
    SpawnRoute,
    protected,
    route_params,
    workspace_plan,
)
from support.waits import WAIT_SECONDS

from llmx.sandbox.linux import BackendKind, DenialKind, UnenforceablePlan
from llmx.sandbox.plan import NetworkAccess, WritableRoot

OUTSIDE_WRITES = [
    "write_abs_new", "write_abs_existing", "write_relative", "write_dotdot", "write_etc",
    "write_root", "mkdir_outside", "unlink_outside", "truncate_outside", "chmod_outside",
    "rename_out_of_ws", "rename_into_ws", "symlink_file_escape", "symlink_dir_escape",
    "hardlink_escape", "proc_self_fd", "proc_self_root", "tmpfile_outside",
]
PROTECTED_WRITES = [
    "git_config_write", "git_hook_create", "git_head_delete", "git_dir_rename",
    "git_dir_replace", "git_via_symlink", "agents_write", "agents_rename", "codex_create",
    "codex_replace", "mount_tmpfs", "remount_git_rw",
]
NETWORK = [
    "inet_tcp", "inet_udp", "inet6_tcp", "inet6_udp", "netlink", "raw_icmp", "packet",
    "connect_loopback", "unix_connect",
]
PROCESS = [
    "io_uring", "ptrace_parent", "ptrace_holder", "process_vm_read_holder", "signal_parent",
    "signal_holder", "env_secret", "proc_environ_secret", "unshare_user",
    "proc_parent_visible", "proc_parent_environ", "init_environ", "inherited_descriptor",
]
# Creating namespaces through clone/clone3 (unshare and setns are in PROCESS): refused by
# the seccomp filter with this errno. ENOSYS for clone3 makes libc fall back to clone.
NAMESPACE_CLONES = {
    "clone_newuser": errno.EPERM, "clone_newns": errno.EPERM, "clone_newnet": errno.EPERM,
    "clone_newuser_high_word": errno.EPERM, "clone3_newuser": errno.ENOSYS,
}
# util-linux's unshare(1): refused, the command exits non-zero.
UNSHARE_COMMANDS = ["unshare_cmd_user", "unshare_cmd_root"]
# What Landlock alone does not stop: metadata changes, and seeing the user's other
# processes through /proc (no PID namespace; reading their environment is refused only
# by Landlock's scoping), nor a process that leaves the group with setsid. These are why
# that backend is only used when asked for by name.
LANDLOCK_GAPS = {"chmod_outside", "proc_environ_secret", "proc_parent_visible",
                 "proc_parent_environ", "detach_sleeper"}
# Landlock alone writes only the host's device nodes and pseudo-terminals: the host's
# /dev/shm is shared with every other process of the user, so it stays read-only.
LANDLOCK_REFUSED = {"dev_shm_write"}
# Started inside; whether it escaped is judged on the host once the sandbox is gone.
HOST_JUDGED = ["detach_sleeper"]
REFUSED = (OUTSIDE_WRITES + PROTECTED_WRITES + NETWORK + PROCESS + list(NAMESPACE_CLONES)
           + UNSHARE_COMMANDS)
# Ordinary processes and threads (clone without namespace flags, vfork, clone3 falling
# back to clone) keep working under the filter.
PROCESS_CREATION = ["threads_work", "fork_child", "posix_spawn_child", "subprocess_child",
                    "bash_background", "make_parallel"]
ALLOWED = ["ws_write", "scratch_write", "read_etc", "dev_null", "unix_socketpair", "env_passed",
           "pty_open", "dev_shm_write", *PROCESS_CREATION]
# Attempts that run a program the machine may lack: skipped (with the reason) without it.
NEEDS_PROGRAM = {"unshare_cmd_user": "unshare", "unshare_cmd_root": "unshare",
                 "bash_background": "bash", "make_parallel": "make"}
SECRET_NAME = "LLMX_ESCAPE_SUITE_SECRET_TOKEN"
SECRET_VALUE = "s3cr3t-value-that-must-not-leak"


@dataclass
class Arena:
    base: Path
    ws: Path
    scratch: Path
    outside: Path
    verdicts: dict[str, dict[str, object]]
    exit_code: int
    output: str
    detach_token: str
    route: SpawnRoute

    @property
    def backend(self) -> BackendKind:
        return self.route.backend


def _make_arena(base: Path) -> tuple[Path, Path, Path]:
    ws, scratch, outside = base / "ws", base / "scratch", base / "outside"
    for d in (ws, scratch, outside):
        d.mkdir()
    subprocess.run(["git", "init", "-q", str(ws)], check=True, timeout=WAIT_SECONDS)
    (ws / ".agents").mkdir()
    (ws / ".agents" / "skill.md").write_text("original\n")
    (outside / "existing.txt").write_text("original\n")
    return ws, scratch, outside


def _snapshot(path: Path) -> dict[str, tuple[int, bytes]]:
    found = {}
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            p = Path(root) / name
            st = p.lstat()
            found[str(p.relative_to(path))] = (
                st.st_mode, p.read_bytes() if p.is_file() and not p.is_symlink() else b"")
    return found


@pytest.fixture(scope="module", params=route_params())
def arena(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          ) -> Iterator[Arena]:
    route: SpawnRoute = request.param
    kind = route.backend
    base = tmp_path_factory.mktemp(f"escape-{route.id}")
    detach_token = f"{os.getpid()}{ROUTES.index(route)}7"
    ws, scratch, outside = _make_arena(base)
    before = (_snapshot(outside), _snapshot(ws / ".git"), _snapshot(ws / ".agents"))
    listener = socket.create_server(("127.0.0.1", 0))
    unix_path = str(base / "unix.sock")
    unix_listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix_listener.bind(unix_path)
    unix_listener.listen()
    os.environ[SECRET_NAME] = SECRET_VALUE
    # A process outside the sandbox, holding the secret in its environment from exec on.
    holder = subprocess.Popen(["sleep", "600"], env={**os.environ})
    maps = Path(f"/proc/{holder.pid}/maps").read_text().splitlines()
    holder_addr = int(next(m for m in maps if " r" in m).split("-")[0], 16)
    context = {
        "ws": str(ws), "outside": str(outside), "scratch": str(scratch),
        "port": str(listener.getsockname()[1]), "unix_socket": unix_path,
        "parent_pid": str(os.getpid()), "secret_name": SECRET_NAME,
        "secret_value": SECRET_VALUE, "holder_pid": str(holder.pid),
        "holder_addr": str(holder_addr), "detach_token": detach_token,
    }
    if kind is BackendKind.LANDLOCK:
        # Landlock alone cannot protect .git inside a writable root (the backend refuses
        # such plans, tested below), so its run covers everything else.
        roots = (WritableRoot(ws), WritableRoot(scratch))
        skipped = {*PROTECTED_WRITES, *LANDLOCK_GAPS}
        attempts = [a for a in REFUSED if a not in skipped] + [
            a for a in ALLOWED if a not in LANDLOCK_REFUSED]
    else:
        roots = (protected(ws), WritableRoot(scratch))
        attempts = REFUSED + ALLOWED + HOST_JUDGED
    plan = workspace_plan(*roots, env={"LLMX_PROBE_VISIBLE": "yes"})
    try:
        result = asyncio.run(route.run(
            [PYTHON, "-I", "-S", str(PROBES / "escape_probe.py"), json.dumps(context),
             *attempts], cwd=ws, plan=plan, timeout=120))
    finally:
        del os.environ[SECRET_NAME]
        holder.kill()
        holder.wait(timeout=WAIT_SECONDS)
        listener.close()
        unix_listener.close()
    verdicts = {}
    for line in result.stdout.decode().splitlines():
        verdict = json.loads(line)
        verdicts[verdict["attempt"]] = verdict
    yield Arena(base, ws, scratch, outside, verdicts, result.exit_code,
                result.aggregated.decode(errors="replace"), detach_token, route)
    after = (_snapshot(outside), _snapshot(ws / ".git"), _snapshot(ws / ".agents"))
    assert after == before, "the sandboxed probe changed files outside its writable roots"


def _running_with(token: str) -> list[int]:
    """Live (not zombie) processes whose command line holds ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if token.encode() in cmdline.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found


def _verdict(arena: Arena, attempt: str) -> dict[str, object]:
    assert attempt in arena.verdicts, f"probe gave no verdict for {attempt}: {arena.output}"
    return arena.verdicts[attempt]


def _skip_without_program(attempt: str) -> None:
    program = NEEDS_PROGRAM.get(attempt)
    if program is not None and shutil.which(program) is None:
        pytest.skip(f"{program} is not installed on this machine")


@pytest.mark.parametrize("attempt", REFUSED)
def test_escape_attempt_is_refused(arena: Arena, attempt: str) -> None:
    _skip_without_program(attempt)
    if attempt in PROTECTED_WRITES and "git_config_write" not in arena.verdicts:
        pytest.skip("landlock backend refuses plans with protected paths (tested separately)")
    if attempt in LANDLOCK_GAPS and attempt not in arena.verdicts:
        pytest.skip("landlock backend: a known gap of Landlock alone (backend never automatic)")
    verdict = _verdict(arena, attempt)
    assert verdict["done"] is False, f"{attempt} escaped the sandbox"


@pytest.mark.parametrize("attempt", list(NAMESPACE_CLONES))
def test_namespace_clone_refused_by_the_filter(arena: Arena, attempt: str) -> None:
    # The errno tells the filter's refusal from a missing capability (also EPERM for
    # NEWNS/NEWNET alone) only for clone3 and NEWUSER; test_linux_seccomp checks each flag
    # with the capabilities present.
    verdict = _verdict(arena, attempt)
    assert verdict["done"] is False, f"{attempt} escaped the sandbox"
    assert verdict["errno"] == NAMESPACE_CLONES[attempt], verdict["error"]


def test_detached_process_does_not_outlive_the_sandbox(arena: Arena) -> None:
    if arena.backend is BackendKind.LANDLOCK:
        pytest.skip("landlock backend: no PID namespace, a setsid process leaves the group "
                    "(a known gap; backend never automatic)")
    assert _verdict(arena, "detach_sleeper")["done"] is True, arena.output
    # run_confined has returned: the namespace and everything in it must already be gone.
    assert _running_with(arena.detach_token) == [], "a setsid process outlived the sandbox"


@pytest.mark.parametrize("attempt", ALLOWED)
def test_allowed_operation_works(arena: Arena, attempt: str) -> None:
    if arena.backend is BackendKind.LANDLOCK and attempt in LANDLOCK_REFUSED:
        pytest.skip("landlock backend: the host's /dev/shm is not among its writable paths")
    _skip_without_program(attempt)
    verdict = _verdict(arena, attempt)
    assert verdict["done"] is True, f"{attempt} was refused: {verdict['error']}"


def test_outside_and_protected_files_unchanged(arena: Arena) -> None:
    assert (arena.outside / "existing.txt").read_text() == "original\n"
    assert sorted(p.name for p in arena.outside.iterdir()) == ["existing.txt"]
    assert not (arena.ws / ".codex").exists(), "the .codex mask leaked into the workspace"
    assert (arena.ws / "subdir" / "moved.txt").exists()
    assert (arena.scratch / "allowed.txt").exists()


@pytest.mark.parametrize("route", route_params())
def test_git_init_and_commit_where_allowed(route: SpawnRoute, tmp_path: Path) -> None:
    ws = tmp_path / "fresh"
    ws.mkdir()
    script = ("git init -q && git -c user.name=t -c user.email=t@example.com "
              "commit -q --allow-empty -m first && git log --format=%s")
    result = asyncio.run(route.run(["sh", "-c", script], cwd=ws,
                                   plan=workspace_plan(protected(ws, route.backend))))
    assert result.exit_code == 0, result.aggregated
    assert result.stdout.decode().strip() == "first"
    assert (ws / ".git" / "HEAD").exists()


@pytest.mark.parametrize("route", route_params())
def test_git_commit_into_protected_git_is_refused(route: SpawnRoute, tmp_path: Path) -> None:
    ws = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(ws)], check=True, timeout=WAIT_SECONDS)
    plan = workspace_plan(protected(ws))
    script = "git -c user.name=t -c user.email=t@example.com commit -q --allow-empty -m x"
    if route.backend is BackendKind.LANDLOCK:
        with pytest.raises(UnenforceablePlan, match="read-only subpaths"):
            asyncio.run(route.run(["sh", "-c", script], cwd=ws, plan=plan))
        return
    result = asyncio.run(route.run(["sh", "-c", script], cwd=ws, plan=plan))
    assert result.exit_code != 0
    assert result.denied is DenialKind.READ_ONLY_FILESYSTEM, result.aggregated
    assert not list((ws / ".git" / "objects").glob("??"))


@pytest.mark.parametrize("route", route_params())
def test_slash_tmp_is_writable_when_a_root(route: SpawnRoute, tmp_path: Path) -> None:
    target = Path("/tmp") / f"llmx-escape-suite-{os.getpid()}-{route.id}"
    plan = workspace_plan(protected(tmp_path, route.backend), WritableRoot(Path("/tmp")))
    try:
        result = asyncio.run(route.run(["touch", str(target)], cwd=tmp_path, plan=plan))
        assert result.exit_code == 0, result.aggregated
        assert target.exists()
    finally:
        target.unlink(missing_ok=True)


@pytest.mark.parametrize("route", route_params())
def test_read_only_plan_refuses_workspace_writes(route: SpawnRoute, tmp_path: Path) -> None:
    result = asyncio.run(route.run(["touch", "x"], cwd=tmp_path, plan=workspace_plan()))
    assert result.exit_code == 1
    assert result.denied is DenialKind.READ_ONLY_FILESYSTEM or \
        result.denied is DenialKind.PERMISSION_DENIED, result.aggregated
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("route", route_params())
def test_enabled_network_allows_inet_sockets(route: SpawnRoute, tmp_path: Path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    code = f"import socket; socket.create_connection(('127.0.0.1', {port})).close(); print('ok')"
    try:
        result = asyncio.run(route.run(
            [PYTHON, "-I", "-S", "-c", code], cwd=tmp_path,
            plan=workspace_plan(network=NetworkAccess.ENABLED)))
    finally:
        listener.close()
    assert result.exit_code == 0, result.aggregated
    assert result.stdout == b"ok\n"
