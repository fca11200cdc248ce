"""apply_patch targets checked against real resolved plans, after every link is followed."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmx.sandbox.patch_safety import (
    DENIED,
    NOT_READABLE,
    OUTSIDE_ROOTS,
    check_targets,
    patch_target,
    read_refusal,
    write_refusal,
)
from llmx.sandbox.plan import ConfinementPlan
from llmx.sandbox.resolve import SandboxConfig, SandboxFlags, resolve_sandbox


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "p" / ".git").mkdir(parents=True)
    return tmp_path / "p"


def _plan(project: Path, config: SandboxConfig | None = None, **flags: object) -> ConfinementPlan:
    return resolve_sandbox(config or SandboxConfig(), SandboxFlags(**flags),  # type: ignore[arg-type]
                           cwd=project, env={}).plan


# /tmp and $TMPDIR are not writable roots, so the tests' "outside" really is outside.
NO_TMP = SandboxConfig(sandbox_workspace_write={"exclude_slash_tmp": True,
                                                "exclude_tmpdir_env_var": True})


def _refusal(project: Path, name: str, plan: ConfinementPlan) -> str | None:
    return write_refusal(patch_target(project / name).target, plan)


def test_inside_the_workspace_is_writable(project: Path) -> None:
    assert _refusal(project, "src/a.py", _plan(project, full_auto=True)) is None


@pytest.mark.parametrize(
    ("name", "why"),
    [(".git/hooks/pre-commit", "protected .git"), (".codex/config.toml", "protected .codex"),
     (".agents/x", "protected .agents"), ("/etc/outside.txt", OUTSIDE_ROOTS)],
)
def test_protected_or_outside_paths_are_refused(project: Path, name: str, why: str) -> None:
    assert _refusal(project, name, _plan(project, NO_TMP, full_auto=True)) == why


def test_read_only_refuses_everything_and_full_access_nothing(project: Path) -> None:
    assert _refusal(project, "a.txt", _plan(project)) == OUTSIDE_ROOTS
    assert _refusal(project, "/etc/x", _plan(project, bypass=True)) is None


def test_links_are_judged_by_where_they_lead(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (project / "out").symlink_to(outside)
    (project / "gitlink").symlink_to(".git")
    (project / "inner").symlink_to("src")
    plan = _plan(project, NO_TMP, full_auto=True)
    checked = check_targets(
        [patch_target(project / n) for n in ("out/x", "gitlink/config", "inner/y")], plan)
    assert [(t.target, t.refusal, t.via) for t in checked] == [
        (outside / "x", OUTSIDE_ROOTS, project / "out"),
        (project / ".git" / "config", "protected .git", project / "gitlink"),
        (project / "src" / "y", None, project / "inner"),
    ]
    assert checked[0].describe() == (
        f"{outside / 'x'} (outside the writable roots; via {project / 'out'})")


def test_deny_read_and_restricted_reads(project: Path, tmp_path: Path) -> None:
    (project / "secret.env").write_text("x")
    config = SandboxConfig(permissions={"dev": {
        "extends": ":workspace",
        "filesystem": {":workspace_roots": {"**/*.env": "deny"}}}})
    plan = _plan(project, config, permission_profile="dev")
    assert read_refusal(project / "secret.env", plan) == DENIED
    assert write_refusal(project / "secret.env", plan) == DENIED
    assert read_refusal(project / "a.py", plan) is None
    narrow = SandboxConfig(permissions={"narrow": {"filesystem": {":workspace_roots": "read"}}})
    assert read_refusal(tmp_path / "other", _plan(project, narrow,
                                                 permission_profile="narrow")) == NOT_READABLE
