"""The escape suite: every attempt to leave the sandbox, on every backend and route, judged
on the host.

One probe process per route (``llmx sandbox linux --backend X`` and a running session's
``run_confined``, through the spawn server and forked, on each backend) tries all attempts
of ``support.escape_attempts``; the host then looks at what changed on its side (files,
listeners, processes, keys, terminals, kernel settings) and judges each attempt from that
alone. Two positive controls run the same probe with no sandbox and must see every attempt
get through, so a judge that cannot see an escape fails here rather than passing quietly.
What a backend is known not to stop is listed in ``GAPS`` and expected to get through
(strict xfail), so closing a gap is noticed too.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from pathlib import Path

import pytest
from support import unprivileged
from support.escape_attempts import ALLOWED, ATTEMPTS
from support.escape_routes import CONTROLS, SANDBOXED, EscapeRoute
from support.escape_run import RouteResult, run_route
from support.linux_sandbox import (
    PYTHON,
    SpawnRoute,
    protected,
    route_params,
    workspace_plan,
)
from support.unprivileged import status_for_tests
from support.waits import WAIT_SECONDS, wait_until

from llmx.sandbox.linux.backends import BackendKind, UnenforceablePlan
from llmx.sandbox.linux.denials import DenialKind
from llmx.sandbox.plan import NetworkAccess, WritableRoot

_LANDLOCK_PROCS = ("no PID namespace: the user's other processes are visible in /proc "
                   "(their command lines readable; their environment and memory are not, "
                   "Landlock refuses ptrace access to processes outside its domain)")
_LANDLOCK_SCHED = ("no PID namespace: the user's other processes' priority and limits "
                   "can be changed (Landlock does not govern setpriority/prlimit)")
# What each backend is known to let through: attempt -> {route id or backend: why}.
GAPS: dict[str, dict[str, str]] = {
    "proc_cmdline_holder": {"landlock": _LANDLOCK_PROCS},
    "setpriority_holder": {"landlock": _LANDLOCK_SCHED},
    "prlimit_holder": {"landlock": _LANDLOCK_SCHED},
    "detach_sleeper": {"landlock": "no PID namespace: a process that leaves the session "
                                   "outlives the command"},
}
# The landlock backend runs only for a user other than root (as root it refuses, since root
# owns every system file; a suite run as root runs these routes as nobody, see
# ``support.unprivileged``): that user may change the mode, attributes and times of their
# own files outside the writable roots.
for _name in ("chmod_outside", "setxattr_outside", "utime_outside"):
    GAPS[_name] = {"landlock": "Landlock does not govern file metadata"}
# What the landlock backend cannot offer: the host's /dev/shm and /dev/pts are shared with
# every other process of the user, so no POSIX semaphores and no new pseudo-terminals.
ALLOWED_GAPS = {"dev_shm_write": {"landlock": "the host's /dev/shm is not writable"},
                "pty_open": {"landlock": "/dev/pts holds the user's other terminals: a new "
                                         "pseudo-terminal cannot be opened"},
                "multiprocessing_pool": {"landlock": "the host's /dev/shm is not writable"}}
# Attempts no unconfined run can show getting through, and why their judge is sound.
CONTROL_BLIND = {
    "init_environ": "unconfined, PID 1 is the host's init, which holds no secret of the "
                    "caller; the judge is the one env_secret and proc_caller_environ use",
}
# Attempts that get through only with root's powers: run by a user other than root, the
# unconfined controls are refused too, so their judges are checked by a run as root (CI's).
# The sandboxed routes still try them: refused is what they must be.
_PROC_SYS = "write access to /proc/sys"
_KERNEL_LOG = "read access to the kernel log (kernel.dmesg_restrict)"
ROOT_ONLY = {
    "write_etc": "write access to /etc",
    "write_root_dir": "write access to /",
    "chown_outside": "CAP_CHOWN",
    "open_by_handle": "CAP_DAC_READ_SEARCH",
    "raw_icmp_echo": "CAP_NET_RAW",
    "packet_lo_send": "CAP_NET_RAW",
    "netlink_route_addr": "CAP_NET_ADMIN",
    "sysctl_domainname": _PROC_SYS,
    "sysctl_printk_ratelimit": _PROC_SYS,
    "sysctl_net_port_range": _PROC_SYS,
    "sysfs_knob_write": "write access to /sys",
    "klogctl_console_level": "CAP_SYSLOG",
    "adjtimex_esterror": "CAP_SYS_TIME",
    "mknod_char_in_ws": "CAP_MKNOD",
    "kmsg_read": _KERNEL_LOG,
    "syslog_read": _KERNEL_LOG,
    "kmsg_write": "write access to /dev/kmsg",
    "tiocsti_other_pty": "CAP_SYS_ADMIN, for TIOCSTI",
    "setns_holder_mnt": "CAP_SYS_ADMIN",
    "open_tree_git": "CAP_SYS_ADMIN",
    "mount_host_ns": "CAP_SYS_ADMIN",
}


def _gap(table: dict[str, dict[str, str]], attempt: str, route: EscapeRoute) -> str | None:
    reasons = table.get(attempt, {})
    for key in (route.id, str(route.backend), "*"):
        if key in reasons:
            return reasons[key]
    return None


def _route_param(route: EscapeRoute) -> object:
    marks = []
    if route.backend is not None:
        status = status_for_tests(BackendKind(route.backend))
        if not status.available:
            marks.append(pytest.mark.skip(reason=f"{route.backend} unavailable: "
                                                 f"{status.reason}"))
    return pytest.param(route, id=route.id, marks=marks)


@pytest.fixture(scope="module", params=[_route_param(r) for r in SANDBOXED])
def result(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> RouteResult:
    route: EscapeRoute = request.param
    if unprivileged.elsewhere(route.backend):
        # Its tests run as nobody, in a pytest of their own (``support.unprivileged``):
        # there, this fixture runs the probe; here, the tests' bodies never run.
        return RouteResult(route, {}, {}, 0, "")
    return run_route(route, tmp_path_factory.mktemp(f"escape-{route.id}"))


@pytest.fixture(scope="module")
def controls(tmp_path_factory: pytest.TempPathFactory) -> list[RouteResult]:
    return [run_route(route, tmp_path_factory.mktemp(f"escape-{route.id}"))
            for route in CONTROLS]


def _log(result: RouteResult, attempt: str) -> str:
    lines = [line for line in result.log.splitlines()
             if line.startswith((f"attempt {attempt}:", f"leak {attempt}:"))]
    return "\n".join(lines)[:2000]


def _outcome(result: RouteResult, name: str, outcome: bool | str,
             gaps: dict[str, dict[str, str]], request: pytest.FixtureRequest) -> bool:
    """``outcome`` as a bool, after skipping what was not tried and marking a known gap
    as an expected failure (strict: a closed gap fails until it is taken off the list)."""
    if isinstance(outcome, str):
        pytest.skip(outcome)
    gap = _gap(gaps, name, result.route)
    if gap is not None:
        request.applymarker(pytest.mark.xfail(strict=True, reason=gap))
    return outcome


@pytest.mark.parametrize("attempt", [a.name for a in ATTEMPTS])
def test_attempt_does_not_get_through(result: RouteResult, attempt: str,
                                      request: pytest.FixtureRequest) -> None:
    escaped = _outcome(result, attempt, result.verdicts[attempt], GAPS, request)
    assert not escaped, f"{attempt} got through on {result.route.id}:\n" + \
        _log(result, attempt)


@pytest.mark.parametrize("name", list(ALLOWED))
def test_allowed_operation_works(result: RouteResult, name: str,
                                 request: pytest.FixtureRequest) -> None:
    worked = _outcome(result, name, result.allowed[name], ALLOWED_GAPS, request)
    assert worked, f"{name} failed on {result.route.id}:\n" + _log(result, name)


def test_probe_ran_to_the_end(result: RouteResult) -> None:
    assert result.exit_code == 0, result.log[-3000:]


@pytest.mark.parametrize("attempt", [a.name for a in ATTEMPTS])
def test_harness_sees_the_attempt_get_through_unconfined(
        controls: list[RouteResult], attempt: str) -> None:
    if attempt in CONTROL_BLIND:
        pytest.skip(CONTROL_BLIND[attempt])
    verdicts = [control.verdicts[attempt] for control in controls]
    if os.geteuid() != 0 and attempt in ROOT_ONLY and True not in verdicts:
        pytest.skip(f"run as a user other than root, the unconfined controls are refused "
                    f"too: the attempt needs root's {ROOT_ONLY[attempt]}; a run as root "
                    "checks its judge")
    if all(isinstance(verdict, str) for verdict in verdicts):
        pytest.skip(str(verdicts[0]))
    assert True in verdicts, "no unconfined run was seen getting through:\n" + "\n".join(
        _log(control, attempt) for control in controls)


@pytest.mark.parametrize("name", list(ALLOWED))
def test_harness_sees_allowed_operations_work_unconfined(
        controls: list[RouteResult], name: str) -> None:
    worked = [control.allowed[name] for control in controls]
    if all(isinstance(w, str) for w in worked):
        pytest.skip(str(worked[0]))
    assert all(w is True for w in worked if not isinstance(w, str)), worked


def test_the_suite_is_large_enough() -> None:
    assert len(ATTEMPTS) >= 120
    assert len({a.name for a in ATTEMPTS}) == len(ATTEMPTS)


_GIT_INIT = ("git init -q && git -c user.name=t -c user.email=t@example.com "
             "commit -q --allow-empty -m first && git log --format=%s")


@pytest.mark.parametrize("route", route_params())
def test_git_init_and_commit_where_allowed(route: SpawnRoute, tmp_path: Path) -> None:
    # A profile with an explicit write entry for .git lifts its protection.
    ws = tmp_path / "fresh"
    ws.mkdir()
    root = WritableRoot(ws) if route.backend is BackendKind.LANDLOCK else \
        WritableRoot(ws, (ws / ".agents", ws / ".codex"))
    result = asyncio.run(route.run(["sh", "-c", _GIT_INIT], cwd=ws, plan=workspace_plan(root)))
    assert result.exit_code == 0, result.aggregated
    assert result.stdout.decode().strip() == "first"
    assert (ws / ".git" / "HEAD").exists()


@pytest.mark.parametrize("route", route_params())
def test_git_init_is_refused_where_a_missing_git_is_protected(route: SpawnRoute,
                                                              tmp_path: Path) -> None:
    # As in Codex 0.169: a workspace without a repository cannot become one unasked, and
    # nothing is left behind (the mask's mount point is removed).
    ws = tmp_path / "fresh"
    ws.mkdir()
    plan = workspace_plan(protected(ws))
    if route.backend is BackendKind.LANDLOCK:
        with pytest.raises(UnenforceablePlan, match="read-only subpaths"):
            asyncio.run(route.run(["sh", "-c", _GIT_INIT], cwd=ws, plan=plan))
        return
    result = asyncio.run(route.run(["sh", "-c", _GIT_INIT], cwd=ws, plan=plan))
    assert result.exit_code != 0
    assert result.denied is DenialKind.READ_ONLY_FILESYSTEM, result.aggregated
    # The masks' mount points linger a moment for a next command (``mask_targets``).
    wait_until(lambda: not os.listdir(ws), "the workspace to be empty again")


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
