"""apply_patch writable-path check against real resolved plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmx.sandbox.patch_safety import (
    REJECT_OUTSIDE_PROJECT,
    REJECT_READ_ONLY,
    PatchDecision,
    assess_patch,
)
from llmx.sandbox.resolve import SandboxConfig, SandboxFlags, resolve_sandbox


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "p" / ".git").mkdir(parents=True)
    return tmp_path / "p"


def _plan(project: Path, **flags: object):  # type: ignore[no-untyped-def]
    return resolve_sandbox(SandboxConfig(), SandboxFlags(**flags), cwd=project, env={}).plan  # type: ignore[arg-type]


def test_inside_workspace_is_auto_approved_sandboxed(project: Path) -> None:
    result = assess_patch(
        ["src/a.py"], cwd=project, plan=_plan(project, full_auto=True), approval_policy="on-request"
    )
    assert result.decision is PatchDecision.AUTO_APPROVE_SANDBOXED


@pytest.mark.parametrize(
    "target", [".git/hooks/pre-commit", ".codex/config.toml", ".agents/x", "/etc/outside.txt"]
)
def test_protected_or_outside_paths_ask_or_reject(project: Path, target: str) -> None:
    plan = _plan(project, full_auto=True)
    asked = assess_patch([target], cwd=project, plan=plan, approval_policy="on-request")
    assert asked.decision is PatchDecision.ASK_USER
    rejected = assess_patch([target], cwd=project, plan=plan, approval_policy="never")
    assert rejected.decision is PatchDecision.REJECT
    assert rejected.reason == REJECT_OUTSIDE_PROJECT


def test_read_only_rejects_with_read_only_text(project: Path) -> None:
    result = assess_patch(["a.txt"], cwd=project, plan=_plan(project), approval_policy="never")
    assert (result.decision, result.reason) == (PatchDecision.REJECT, REJECT_READ_ONLY)


def test_full_access_applies_directly_and_untrusted_always_asks(project: Path) -> None:
    plan = _plan(project, bypass=True)
    assert assess_patch(["/etc/x"], cwd=project, plan=plan, approval_policy="never").decision is (
        PatchDecision.AUTO_APPROVE_UNSANDBOXED
    )
    assert assess_patch(["a"], cwd=project, plan=plan, approval_policy="untrusted").decision is (
        PatchDecision.ASK_USER
    )


def test_empty_patch_and_move_destination(project: Path) -> None:
    plan = _plan(project, full_auto=True)
    assert assess_patch([], cwd=project, plan=plan, approval_policy="never").reason == "empty patch"
    moved = assess_patch(
        ["a.txt", "/etc/b.txt"], cwd=project, plan=plan, approval_policy="on-request"
    )
    assert moved.unwritable == (Path("/etc/b.txt"),)
