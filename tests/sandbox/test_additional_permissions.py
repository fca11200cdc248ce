"""``additional_permissions``: parsing Codex's shapes, and the plan of a bounded escalation."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support.waits import WAIT_SECONDS

from llmx.sandbox.additional_permissions import (
    AdditionalPermissions,
    bounded_sandbox,
    denies_reads,
    parse_additional_permissions,
)
from llmx.sandbox.env_policy import NETWORK_DISABLED_ENV_VAR
from llmx.sandbox.plan import NetworkAccess
from llmx.sandbox.policy import PolicyError
from llmx.sandbox.profiles import FsAccess, FsEntry
from llmx.sandbox.resolve import ResolvedSandbox, SandboxConfig, SandboxFlags, resolve_sandbox

NO_TMP = {"exclude_slash_tmp": True, "exclude_tmpdir_env_var": True}


def _resolved(cwd: Path, config: SandboxConfig | None = None, **flags: object) -> ResolvedSandbox:
    return resolve_sandbox(config or SandboxConfig(sandbox_workspace_write=NO_TMP),
                           SandboxFlags(**flags), cwd=cwd, env={"HOME": "/nonexistent"})  # type: ignore[arg-type]


def test_legacy_read_write_lists_are_normalised(tmp_path: Path) -> None:
    parsed = parse_additional_permissions(
        {"file_system": {"write": ["out", str(tmp_path / "out"), "/srv/a/../b"],
                         "read": ["/etc"]},
         "network": {"enabled": True}}, cwd=tmp_path)
    assert parsed == AdditionalPermissions(
        (FsEntry(Path("/etc"), FsAccess.READ), FsEntry(tmp_path / "out", FsAccess.WRITE),
         FsEntry(Path("/srv/b"), FsAccess.WRITE)), network=True)
    assert parsed.to_dict()["network"] == {"enabled": True}
    assert parsed.to_dict()["file_system"]["entries"][0] == {
        "path": {"type": "path", "path": "/etc"}, "access": "read"}


def test_canonical_entries_and_empty_requests(tmp_path: Path) -> None:
    entries = {"entries": [{"path": {"type": "path", "path": "/data"}, "access": "write"}]}
    parsed = parse_additional_permissions({"file_system": entries}, cwd=tmp_path)
    assert parsed.entries == (FsEntry(Path("/data"), FsAccess.WRITE),)
    assert parse_additional_permissions({}, cwd=tmp_path).is_empty
    assert parse_additional_permissions({"network": {}}, cwd=tmp_path).is_empty


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "must be an object"),
        ({"file_system": {"write": "/a"}}, "file_system.write must be a list"),
        ({"file_system": {"write": [""]}}, "must be a non-empty string"),
        ({"network": {"enabled": "yes"}}, "network must be"),
        ({"file_system": {"entries": [{"path": {"type": "path", "path": "rel"},
                                       "access": "write"}]}}, "must be an absolute path"),
    ],
)
def test_malformed_requests_name_the_part(tmp_path: Path, value: object, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_additional_permissions(value, cwd=tmp_path)


def test_a_bounded_plan_adds_exactly_the_request_and_keeps_protections(tmp_path: Path) -> None:
    ws, extra = tmp_path / "ws", tmp_path / "extra"
    ws.mkdir()
    subprocess.run(["git", "init", "-q", str(extra)], check=True, timeout=WAIT_SECONDS)
    resolved = _resolved(ws, full_auto=True)
    bounded = bounded_sandbox(resolved, AdditionalPermissions(
        (FsEntry(extra, FsAccess.WRITE),), network=True))
    roots = {root.path: root.read_only_subpaths for root in bounded.plan.writable_roots}
    assert set(roots) == {ws, extra}
    # The new root's .git is as protected as the workspace's.
    assert extra / ".git" in roots[extra]
    assert bounded.plan.network is NetworkAccess.ENABLED
    assert NETWORK_DISABLED_ENV_VAR not in bounded.plan.env
    assert NETWORK_DISABLED_ENV_VAR in resolved.plan.env
    recorded = bounded.escalation_permissions()
    assert recorded["type"] == "resolved_permission_profile"
    assert recorded["permission_profile"]["network"] == "enabled"


def test_a_bounded_read_only_turn_writes_only_where_asked(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    resolved = _resolved(tmp_path)
    assert resolved.plan.writable_roots == ()
    bounded = bounded_sandbox(resolved, AdditionalPermissions((FsEntry(out, FsAccess.WRITE),)))
    assert [root.path for root in bounded.plan.writable_roots] == [out]
    assert bounded.plan.network is NetworkAccess.RESTRICTED


def test_deny_entries_survive_a_bounded_plan_and_mark_the_profile(tmp_path: Path) -> None:
    (tmp_path / "secret.env").write_text("x")
    config = SandboxConfig(sandbox_workspace_write=NO_TMP, permissions={"dev": {
        "extends": ":workspace",
        "filesystem": {":workspace_roots": {".": "write", "secret.env": "deny"}}}})
    resolved = _resolved(tmp_path, config, permission_profile="dev")
    assert denies_reads(resolved)
    assert not denies_reads(_resolved(tmp_path, full_auto=True))
    bounded = bounded_sandbox(resolved, AdditionalPermissions(network=True))
    assert tmp_path / "secret.env" in bounded.plan.denied_paths
