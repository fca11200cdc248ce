"""Resolution from config values and flags, and the plans it builds, on real temp dirs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmx.sandbox.plan import NetworkAccess
from llmx.sandbox.policy import (
    DangerFullAccessPolicy,
    FlagError,
    PolicyError,
    ReadOnlyPolicy,
    WorkspaceWritePolicy,
)
from llmx.sandbox.profiles import profile_to_dict
from llmx.sandbox.resolve import ResolvedSandbox, SandboxConfig, SandboxFlags, resolve_sandbox


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    return root


def _resolve(
    project: Path,
    config: SandboxConfig | None = None,
    flags: SandboxFlags | None = None,
    **env: str,
) -> ResolvedSandbox:
    return resolve_sandbox(
        config or SandboxConfig(),
        flags or SandboxFlags(),
        cwd=project,
        env={"PATH": "/usr/bin", "HOME": str(project.parent), **env},
        thread_id="thread-1",
    )


# (config, flags, expected policy type, expected reason prefix)
TABLE = [
    (SandboxConfig(), SandboxFlags(), ReadOnlyPolicy, "nothing configured"),
    (
        SandboxConfig(sandbox_mode="workspace-write"),
        SandboxFlags(),
        WorkspaceWritePolicy,
        "sandbox_mode",
    ),
    (
        SandboxConfig(sandbox_mode="workspace-write", profile_sandbox_mode="read-only"),
        SandboxFlags(),
        ReadOnlyPolicy,
        "config profile sandbox_mode",
    ),
    (
        SandboxConfig(sandbox_mode="read-only"),
        SandboxFlags(sandbox="workspace-write"),
        WorkspaceWritePolicy,
        "--sandbox",
    ),
    (
        SandboxConfig(sandbox_mode="danger-full-access"),
        SandboxFlags(full_auto=True),
        WorkspaceWritePolicy,
        "--full-auto",
    ),
    (
        SandboxConfig(sandbox_mode="read-only"),
        SandboxFlags(bypass=True),
        DangerFullAccessPolicy,
        "--dangerously",
    ),
    (
        SandboxConfig(project_trust="trusted"),
        SandboxFlags(),
        WorkspaceWritePolicy,
        "project trust_level",
    ),
    (
        SandboxConfig(project_trust="untrusted"),
        SandboxFlags(),
        WorkspaceWritePolicy,
        "project trust_level",
    ),
    (SandboxConfig(project_trust="unknown"), SandboxFlags(), ReadOnlyPolicy, "nothing configured"),
    (
        SandboxConfig(project_trust="trusted", sandbox_mode="read-only"),
        SandboxFlags(),
        ReadOnlyPolicy,
        "sandbox_mode",
    ),
    (
        SandboxConfig(default_permissions=":workspace"),
        SandboxFlags(),
        WorkspaceWritePolicy,
        "default_permissions",
    ),
    (
        SandboxConfig(default_permissions=":read-only", sandbox_mode="workspace-write"),
        SandboxFlags(),
        ReadOnlyPolicy,
        "default_permissions",
    ),
    (
        SandboxConfig(),
        SandboxFlags(permission_profile=":danger-full-access"),
        DangerFullAccessPolicy,
        "--permission-profile",
    ),
    (
        SandboxConfig(default_permissions=":read-only"),
        SandboxFlags(sandbox="danger-full-access"),
        DangerFullAccessPolicy,
        "--sandbox",
    ),
]


@pytest.mark.parametrize(("config", "flags", "expected", "reason"), TABLE)
def test_resolution_order(
    project: Path, config: SandboxConfig, flags: SandboxFlags, expected: type, reason: str
) -> None:
    resolved = _resolve(project, config, flags)
    assert type(resolved.policy) is expected
    assert resolved.reasons[0].startswith(reason)


def test_read_only_plan(project: Path) -> None:
    plan = _resolve(project).plan
    assert not plan.unconfined
    assert plan.readable_roots is None
    assert plan.writable_roots == ()
    assert plan.network is NetworkAccess.RESTRICTED
    assert plan.env["CODEX_SANDBOX_NETWORK_DISABLED"] == "1"
    assert plan.env["CODEX_THREAD_ID"] == "thread-1"


def test_workspace_write_roots_tmp_and_tmpdir(project: Path, tmp_path: Path) -> None:
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    plan = _resolve(project, flags=SandboxFlags(full_auto=True), TMPDIR=str(tmpdir)).plan
    roots = [r.path for r in plan.writable_roots]
    assert roots[0] == project
    assert Path("/tmp") in roots
    assert tmpdir in roots


def test_workspace_write_excludes(project: Path, tmp_path: Path) -> None:
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    config = SandboxConfig(
        sandbox_mode="workspace-write",
        sandbox_workspace_write={"exclude_slash_tmp": True, "exclude_tmpdir_env_var": True},
    )
    resolved = _resolve(project, config, TMPDIR=str(tmpdir))
    assert [r.path for r in resolved.plan.writable_roots] == [project]
    assert resolved.policy == WorkspaceWritePolicy(
        exclude_tmpdir_env_var=True, exclude_slash_tmp=True
    )


def test_network_access_and_writable_roots_from_config(project: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    config = SandboxConfig(
        sandbox_mode="workspace-write",
        sandbox_workspace_write={"network_access": True, "writable_roots": [str(extra)]},
    )
    resolved = _resolve(project, config)
    assert resolved.plan.network is NetworkAccess.ENABLED
    assert "CODEX_SANDBOX_NETWORK_DISABLED" not in resolved.plan.env
    assert extra in [r.path for r in resolved.plan.writable_roots]
    assert resolved.policy.writable_roots == (extra,)  # type: ignore[union-attr]


def test_add_dir_is_resolved_against_cwd_and_deduplicated(project: Path, tmp_path: Path) -> None:
    (tmp_path / "extra").mkdir()
    resolved = _resolve(
        project, flags=SandboxFlags(full_auto=True, add_dirs=("../extra", str(tmp_path / "extra")))
    )
    assert resolved.workspace_roots == (project, tmp_path / "extra")


def test_add_dir_has_no_effect_under_read_only(project: Path, tmp_path: Path) -> None:
    (tmp_path / "extra").mkdir()
    resolved = _resolve(project, flags=SandboxFlags(add_dirs=(str(tmp_path / "extra"),)))
    assert resolved.plan.writable_roots == ()
    assert any("--add-dir has no effect" in w for w in resolved.warnings)


def test_add_dir_adds_a_workspace_root_to_the_workspace_profile(
    project: Path, tmp_path: Path
) -> None:
    extra = tmp_path / "extra"
    (extra / ".agents").mkdir(parents=True)
    resolved = _resolve(
        project, flags=SandboxFlags(permission_profile=":workspace", add_dirs=(str(extra),))
    )
    by_path = {r.path: r for r in resolved.plan.writable_roots}
    # Its metadata is protected too, the missing names included (kept from being created).
    assert by_path[extra].read_only_subpaths == (extra / ".git", extra / ".agents",
                                                 extra / ".codex")


def test_danger_full_access_is_unconfined_with_network(project: Path) -> None:
    plan = _resolve(project, flags=SandboxFlags(bypass=True)).plan
    assert plan.unconfined
    assert plan.network is NetworkAccess.ENABLED
    assert "CODEX_SANDBOX_NETWORK_DISABLED" not in plan.env


def test_workspace_profile_matches_what_codex_writes(project: Path) -> None:
    legacy = _resolve(project, flags=SandboxFlags(full_auto=True))
    named = _resolve(project, flags=SandboxFlags(permission_profile=":workspace"))
    assert profile_to_dict(legacy.profile) == profile_to_dict(named.profile)
    assert legacy.policy == named.policy
    entries = profile_to_dict(named.profile)["file_system"]["entries"]
    assert entries[1] == {"path": {"type": "path", "path": str(project)}, "access": "write"}
    assert entries[4] == {
        "path": {"type": "path", "path": str(project / ".git")},
        "access": "read",
        "missing_path_behavior": "skip",
    }


@pytest.mark.parametrize(
    ("config", "flags", "error", "needle"),
    [
        (
            SandboxConfig(),
            SandboxFlags(sandbox="sideways"),
            FlagError,
            "unknown sandbox mode 'sideways' in --sandbox",
        ),
        (SandboxConfig(sandbox_mode="nope"), SandboxFlags(), PolicyError, "config sandbox_mode"),
        (
            SandboxConfig(),
            SandboxFlags(full_auto=True, bypass=True),
            FlagError,
            "cannot be used together",
        ),
        (
            SandboxConfig(),
            SandboxFlags(permission_profile=":workspace", sandbox="read-only"),
            FlagError,
            "cannot be combined",
        ),
        (
            SandboxConfig(),
            SandboxFlags(full_auto=True, sandbox="read-only"),
            FlagError,
            "conflicts",
        ),
        (
            SandboxConfig(),
            SandboxFlags(full_auto=True, add_dirs=("missing",)),
            FlagError,
            "no such directory",
        ),
        (
            SandboxConfig(),
            SandboxFlags(permission_profile=":everything"),
            PolicyError,
            "unknown built-in",
        ),
        (
            SandboxConfig(),
            SandboxFlags(permission_profile="dev"),
            PolicyError,
            "no [permissions] table",
        ),
        (
            SandboxConfig(
                sandbox_mode="workspace-write", sandbox_workspace_write={"writable_roots": ["rel"]}
            ),
            SandboxFlags(),
            PolicyError,
            "not an absolute path",
        ),
        (
            SandboxConfig(
                sandbox_mode="workspace-write", sandbox_workspace_write={"network_access": "yes"}
            ),
            SandboxFlags(),
            PolicyError,
            "network_access must be true or false",
        ),
    ],
)
def test_bad_input_is_a_one_line_error(
    project: Path, config: SandboxConfig, flags: SandboxFlags, error: type, needle: str
) -> None:
    with pytest.raises(error) as info:
        _resolve(project, config, flags)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_config_mapping_picks_profile_and_project_trust(project: Path) -> None:
    config = {
        "sandbox_mode": "read-only",
        "profiles": {"work": {"sandbox_mode": "workspace-write"}},
        "projects": {str(project): {"trust_level": "trusted"}},
        "sandbox_workspace_write": {"network_access": True},
    }
    parsed = SandboxConfig.from_mapping(config, cwd=project, config_profile="work")
    assert parsed.profile_sandbox_mode == "workspace-write"
    assert parsed.project_trust == "trusted"
    resolved = _resolve(project, parsed)
    assert json.loads(json.dumps(resolved.policy.network_access))  # type: ignore[union-attr]
    with pytest.raises(PolicyError, match="config profile 'other'"):
        SandboxConfig.from_mapping(config, cwd=project, config_profile="other")
