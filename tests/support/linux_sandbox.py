"""Shared set-up for the Linux enforcement tests: backends to parametrize over, plans."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from llmx.sandbox.linux.backends import BackendKind
from llmx.sandbox.linux.result import ConfinedResult
from llmx.sandbox.linux.spawn import OutputCallback, run_confined, warm_up
from llmx.sandbox.plan import ConfinementPlan, NetworkAccess, WritableRoot
from llmx.sandbox.protected import protected_subpaths
from support.unprivileged import status_for_tests
from support.waits import within

PROBES = Path(__file__).resolve().parent.parent / "sandbox" / "probes"
PYTHON = sys.executable
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"}


def backend_params() -> list[object]:
    """One pytest param per backend; a backend this machine lacks is skipped with the reason."""
    params = []
    for kind in BackendKind:
        status = status_for_tests(kind)
        marks = [] if status.available else [
            pytest.mark.skip(reason=f"{kind.value} unavailable: {status.reason}")]
        params.append(pytest.param(kind, id=kind.value, marks=marks))
    return params


@dataclass(frozen=True)
class SpawnRoute:
    """How a confined command is started: its backend and, for the own backend, whether
    the session's spawn server starts it or the session forks it."""

    backend: BackendKind
    spawn_server: bool = True

    @property
    def id(self) -> str:
        if self.backend is BackendKind.NAMESPACES and not self.spawn_server:
            return f"{self.backend.value}-forked"
        return self.backend.value

    @property
    def through_server(self) -> bool:
        return self.backend is BackendKind.NAMESPACES and self.spawn_server

    async def run(self, argv: list[str], *, cwd: str | os.PathLike[str],
                  plan: ConfinementPlan, env: Mapping[str, str] | None = None,
                  stdin: bytes | None = None, timeout: float | None = None,  # noqa: ASYNC109
                  on_output: OutputCallback | None = None) -> ConfinedResult:
        """``run_confined`` on this route; the server route first waits until this loop's
        spawn server serves, so the command is certainly started by it. The test fails
        (and the command is cancelled, so killed) if it has not ended within the wait
        bound."""
        if self.through_server:
            assert await within(warm_up(), "the spawn server"), "the spawn server did not come up"
        return await within(
            run_confined(argv, cwd=cwd, plan=plan, env=env, stdin=stdin, timeout=timeout,
                         on_output=on_output, backend=self.backend,
                         spawn_server=self.spawn_server),
            f"{argv[0]} confined on the {self.id} route")


ROUTES = (SpawnRoute(BackendKind.NAMESPACES), SpawnRoute(BackendKind.NAMESPACES, False),
          *(SpawnRoute(kind) for kind in BackendKind if kind is not BackendKind.NAMESPACES))


def route_params(backend: BackendKind | None = None) -> list[object]:
    """One pytest param per route (the own backend twice: through its spawn server and
    forked), or per route of ``backend``; a backend this machine lacks is skipped with
    the reason."""
    params = []
    for route in ROUTES:
        if backend is not None and route.backend is not backend:
            continue
        status = status_for_tests(route.backend)
        marks = [] if status.available else [
            pytest.mark.skip(reason=f"{route.backend.value} unavailable: {status.reason}")]
        params.append(pytest.param(route, id=route.id, marks=marks))
    return params


def protected(root: Path, backend: BackendKind | None = None) -> WritableRoot:
    """A writable root with the carve-outs the policy layer gives every writable root
    (``protected_subpaths``: ``.git``, ``.agents`` and ``.codex``, missing or not).

    The Landlock backend refuses carve-outs, so for it the root comes without them.
    """
    if backend is BackendKind.LANDLOCK:
        return WritableRoot(root)
    return WritableRoot(root, protected_subpaths(root))


def workspace_plan(*roots: WritableRoot, network: NetworkAccess = NetworkAccess.RESTRICTED,
                   env: dict[str, str] | None = None) -> ConfinementPlan:
    return ConfinementPlan(writable_roots=roots, network=network,
                           env={**BASE_ENV, **(env or {})})


def scrub(path: Path) -> None:
    """Remove a tree the sandboxed command may have made read-only for its owner."""
    for root, dirs, _files in os.walk(path):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)


def alive(pid: int) -> bool:
    """Running (a zombie has exited: only its entry is left for its parent to reap)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
