"""Shared set-up for the Linux enforcement tests: backends to parametrize over, plans."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from llmx.sandbox.linux import BackendKind
from llmx.sandbox.linux.backends import backend_status
from llmx.sandbox.plan import ConfinementPlan, NetworkAccess, WritableRoot

PROBES = Path(__file__).resolve().parent.parent / "sandbox" / "probes"
PYTHON = sys.executable
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"}


def backend_params() -> list[object]:
    """One pytest param per backend; a backend this machine lacks is skipped with the reason."""
    params = []
    for kind in BackendKind:
        status = backend_status(kind)
        marks = [] if status.available else [
            pytest.mark.skip(reason=f"{kind.value} unavailable: {status.reason}")]
        params.append(pytest.param(kind, id=kind.value, marks=marks))
    return params


def protected(root: Path, backend: BackendKind | None = None) -> WritableRoot:
    """A writable root with the carve-outs the policy layer gives a workspace.

    The Landlock backend refuses carve-outs, so for it the root comes without them.
    """
    if backend is BackendKind.LANDLOCK:
        return WritableRoot(root)
    subs = [root / ".codex"]
    subs += [root / name for name in (".git", ".agents") if (root / name).exists()]
    return WritableRoot(root, tuple(subs))


def workspace_plan(*roots: WritableRoot, network: NetworkAccess = NetworkAccess.RESTRICTED,
                   env: dict[str, str] | None = None) -> ConfinementPlan:
    return ConfinementPlan(writable_roots=roots, network=network,
                           env={**BASE_ENV, **(env or {})})


def scrub(path: Path) -> None:
    """Remove a tree the sandboxed command may have made read-only for its owner."""
    for root, dirs, _files in os.walk(path):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
