"""Folders that must not be renamed: those between a protected path and the outermost
writable root holding it (the escape suite renames them; this checks which are kept)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support.linux_sandbox import workspace_plan
from support.waits import WAIT_SECONDS

from llmx.sandbox.linux.backends import BackendKind, backend_status
from llmx.sandbox.linux.prepare import prepare
from llmx.sandbox.plan import WritableRoot


def _nested(tmp_path: Path) -> tuple[Path, Path]:
    outer = tmp_path / "outer"
    ws = outer / "a" / "b" / "ws"
    ws.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(ws)], check=True, timeout=WAIT_SECONDS)
    return outer, ws


@pytest.mark.parametrize("kind", [BackendKind.NAMESPACES, BackendKind.BWRAP])
def test_folders_between_the_outer_root_and_protected_paths_are_pinned(
        kind: BackendKind, tmp_path: Path) -> None:
    status = backend_status(kind)
    if not status.available:
        pytest.skip(f"{kind.value} unavailable: {status.reason}")
    outer, ws = _nested(tmp_path)
    plan = workspace_plan(WritableRoot(outer), WritableRoot(ws, (ws / ".git",)))
    prepared = prepare(["true"], cwd=ws, plan=plan, backend=kind)
    try:
        expected = (str(outer / "a"), str(outer / "a" / "b"))
        if kind is BackendKind.NAMESPACES:
            assert prepared.child_setup is not None
            assert prepared.child_setup.pinned == expected
        else:
            binds = [prepared.argv[i + 1] for i, arg in enumerate(prepared.argv)
                     if arg == "--bind"]
            # Shallowest first: the outer root, the pinned folders, then the workspace.
            assert binds == [str(outer), *expected, str(ws)]
    finally:
        prepared.close()


def test_nothing_is_pinned_without_an_enclosing_root(tmp_path: Path) -> None:
    status = backend_status(BackendKind.NAMESPACES)
    if not status.available:
        pytest.skip(f"namespaces unavailable: {status.reason}")
    _, ws = _nested(tmp_path)
    prepared = prepare(["true"], cwd=ws, backend=BackendKind.NAMESPACES,
                       plan=workspace_plan(WritableRoot(ws, (ws / ".git",))))
    try:
        assert prepared.child_setup is not None
        assert prepared.child_setup.pinned == ()
    finally:
        prepared.close()
