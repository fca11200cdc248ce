"""Protected metadata, [permissions.NAME] profiles, precedence and deny globs on real dirs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support.waits import WAIT_SECONDS

from llmx.sandbox.plan_builder import ResolvedEntry, ResolvedFileSystem
from llmx.sandbox.policy import PolicyError
from llmx.sandbox.profiles import FsAccess
from llmx.sandbox.protected import forbidden_metadata_write, gitdir_target, protected_subpaths
from llmx.sandbox.resolve import SandboxConfig, SandboxFlags, resolve_sandbox


def test_every_protected_name_is_listed_whether_or_not_it_exists(tmp_path: Path) -> None:
    names = (tmp_path / ".git", tmp_path / ".agents", tmp_path / ".codex")
    # Missing: listed, so that the backends keep them from being created (finding 4).
    assert protected_subpaths(tmp_path) == names
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, timeout=WAIT_SECONDS)
    (tmp_path / ".agents").mkdir()
    (tmp_path / ".codex").write_text("a file where the folder belongs\n")
    assert protected_subpaths(tmp_path) == names


def test_gitdir_pointer_of_a_real_worktree_is_protected(tmp_path: Path) -> None:
    main = tmp_path / "main"
    subprocess.run(["git", "init", "-q", str(main)], check=True, timeout=WAIT_SECONDS)
    for git in (["-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty",
                 "-m", "x"], ["worktree", "add", "-q", str(tmp_path / "wt")]):
        subprocess.run(["git", *git], cwd=main, check=True, capture_output=True,
                       timeout=WAIT_SECONDS)
    wt = tmp_path / "wt"
    assert (wt / ".git").is_file()
    target = gitdir_target(wt / ".git")
    assert target is not None
    assert target.parent == main / ".git" / "worktrees"
    assert protected_subpaths(wt) == (wt / ".git", target, wt / ".agents", wt / ".codex")


def test_relative_gitdir_pointer_and_dangling_pointer(tmp_path: Path) -> None:
    (tmp_path / "real-git").mkdir()
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / ".git").write_text("gitdir: ../real-git\n")
    assert gitdir_target(tmp_path / "ws" / ".git") == tmp_path / "real-git"
    # A pointer to nothing still names what must not appear there (the plan keeps it when
    # a writable root holds it).
    (tmp_path / "ws" / ".git").write_text("gitdir: ../nowhere\n")
    assert protected_subpaths(tmp_path / "ws")[:2] == (
        tmp_path / "ws" / ".git", tmp_path / "nowhere")
    (tmp_path / "ws" / ".git").write_text("not a pointer\n")
    assert gitdir_target(tmp_path / "ws" / ".git") is None


def test_forbidden_metadata_write(tmp_path: Path) -> None:
    roots = [tmp_path]
    assert forbidden_metadata_write(tmp_path / ".git" / "hooks" / "pre-commit", roots) == ".git"
    assert forbidden_metadata_write(tmp_path / ".codex", roots) == ".codex"
    assert forbidden_metadata_write(tmp_path / "src" / ".git", roots) is None
    assert forbidden_metadata_write(tmp_path / "a.txt", roots) is None


def test_access_precedence_most_specific_then_deny_write_read() -> None:
    fs = ResolvedFileSystem(
        (
            ResolvedEntry(Path("/"), FsAccess.READ),
            ResolvedEntry(Path("/w"), FsAccess.WRITE),
            ResolvedEntry(Path("/w/ro"), FsAccess.READ),
            ResolvedEntry(Path("/w/ro"), FsAccess.WRITE),
            ResolvedEntry(Path("/w/secret"), FsAccess.DENY),
            ResolvedEntry(Path("/w/secret"), FsAccess.WRITE),
        )
    )
    assert fs.access(Path("/etc/passwd")) is FsAccess.READ
    assert fs.access(Path("/w/a/b")) is FsAccess.WRITE
    assert fs.access(Path("/w/ro/x")) is FsAccess.WRITE
    assert fs.access(Path("/w/secret/k")) is FsAccess.DENY
    assert ResolvedFileSystem(()).access(Path("/x")) is FsAccess.DENY


def _resolve_named(tmp_path: Path, permissions: dict[str, object], name: str = "dev"):  # type: ignore[no-untyped-def]
    return resolve_sandbox(
        SandboxConfig(default_permissions=name, permissions=permissions),
        SandboxFlags(),
        cwd=tmp_path / "ws",
        env={"HOME": str(tmp_path / "home")},
    )


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    (tmp_path / "ws" / ".git").mkdir(parents=True)
    (tmp_path / "ws" / "app").mkdir()
    (tmp_path / "ws" / "app" / "prod.env").write_text("X=1")
    (tmp_path / "ws" / "deep" / "er").mkdir(parents=True)
    (tmp_path / "ws" / "deep" / "er" / "a.env").write_text("X=1")
    (tmp_path / "home" / ".cache").mkdir(parents=True)
    return tmp_path


def test_named_profile_extends_workspace_with_globs_and_home_paths(layout: Path) -> None:
    resolved = _resolve_named(
        layout,
        {
            "dev": {
                "extends": ":workspace",
                "filesystem": {
                    "~/.cache": "write",
                    ":workspace_roots": {"**/*.env": "deny", "app": "read"},
                },
                "network": {"enabled": True},
            }
        },
    )
    plan = resolved.plan
    ws = layout / "ws"
    assert resolved.profile_id == "dev"
    by_path = {r.path: r.read_only_subpaths for r in plan.writable_roots}
    assert layout / "home" / ".cache" in by_path
    assert ws / "app" in by_path[ws]
    assert ws / ".git" in by_path[ws]
    assert set(plan.denied_paths) == {ws / "app" / "prod.env", ws / "deep" / "er" / "a.env"}
    assert plan.network.value == "enabled"


def test_glob_scan_max_depth_limits_expansion(layout: Path) -> None:
    resolved = _resolve_named(
        layout,
        {
            "dev": {
                "extends": ":workspace",
                "filesystem": {"glob_scan_max_depth": 2, ":workspace_roots": {"**/*.env": "deny"}},
            }
        },
    )
    assert resolved.plan.denied_paths == (layout / "ws" / "app" / "prod.env",)


def test_explicit_write_lifts_git_protection(layout: Path) -> None:
    resolved = _resolve_named(
        layout,
        {"dev": {"extends": ":workspace", "filesystem": {":workspace_roots": {".git": "write"}}}},
    )
    ws_root = next(r for r in resolved.plan.writable_roots if r.path == layout / "ws")
    assert layout / "ws" / ".git" not in ws_root.read_only_subpaths


def test_restricted_reads_with_minimal(layout: Path) -> None:
    resolved = _resolve_named(
        layout, {"dev": {"filesystem": {":minimal": "read", ":workspace_roots": {".": "write"}}}}
    )
    readable = resolved.plan.readable_roots
    assert readable is not None
    assert Path("/usr") in readable
    assert layout / "ws" in readable
    assert Path("/") not in readable


def test_unknown_special_token_warns_not_fails(layout: Path) -> None:
    resolved = _resolve_named(
        layout, {"dev": {"filesystem": {":root": "read", ":future_thing": "read"}}}
    )
    assert any(":future_thing" in w for w in resolved.warnings)


@pytest.mark.parametrize(
    ("permissions", "needle"),
    [
        ({"dev": {"filesystem": {"relative/path": "write"}}}, "is relative"),
        ({"dev": {"filesystem": {"/srv/*.txt": "write"}}}, 'only allowed with "deny"'),
        ({"dev": {"filesystem": {":root": "execute"}}}, "not one of read, write, deny"),
        ({"dev": {"filesystem": {":workspace_roots": {"../up": "read"}}}}, "plain relative path"),
        ({"dev": {"extends": "dev"}}, "extends itself"),
        ({"other": {}}, "unknown permission profile 'dev' (defined: other)"),
        ({"dev": {"filesystem": {"glob_scan_max_depth": 0}}}, "glob_scan_max_depth"),
        ({"dev": {"network": {"enabled": "yes"}}}, "network.enabled must be true or false"),
    ],
)
def test_bad_profiles_are_one_line_errors(
    layout: Path, permissions: dict[str, object], needle: str
) -> None:
    with pytest.raises(PolicyError) as info:
        _resolve_named(layout, permissions)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_trailing_double_star_on_write_means_subtree(layout: Path) -> None:
    resolved = _resolve_named(
        layout, {"dev": {"filesystem": {":root": "read", "~/.cache/**": "write"}}}
    )
    assert layout / "home" / ".cache" in [r.path for r in resolved.plan.writable_roots]


def _gitdir_through_link(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A workspace whose ``.git`` file points through ``link``, a symlink inside it."""
    ws, real, evil = tmp_path / "ws", tmp_path / "real-git", tmp_path / "evil-git"
    for repo in (real, evil):
        subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True, timeout=WAIT_SECONDS)
    ws.mkdir()
    (ws / "link").symlink_to(tmp_path)
    (ws / ".git").write_text("gitdir: link/real-git\n")
    return ws, real, evil


def test_gitdir_through_a_writable_symlink_is_refused(tmp_path: Path) -> None:
    ws, _real, _evil = _gitdir_through_link(tmp_path)
    with pytest.raises(PolicyError) as raised:
        resolve_sandbox(SandboxConfig(), SandboxFlags(full_auto=True), cwd=ws, env={})
    assert (raised.value.what, raised.value.todo) == (
        f"cannot enforce sandbox read-only path {ws / 'link' / 'real-git'} because it crosses "
        f"writable symlink {ws / 'link'}",
        "replace the symlink with the directory it points to, or run without that writable "
        "root")
    # Read-only: nothing is writable, nothing to retarget.
    resolve_sandbox(SandboxConfig(), SandboxFlags(), cwd=ws, env={})


def test_a_carve_out_of_one_root_holds_inside_another(tmp_path: Path) -> None:
    # A linked worktree whose git directory lies in a second writable root.
    repo, worktree = tmp_path / "repo", tmp_path / "wt"
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=WAIT_SECONDS)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e",
                    "commit", "-q", "--allow-empty", "-m", "x"], check=True, timeout=WAIT_SECONDS)
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "-q", str(worktree)], check=True,
                   timeout=WAIT_SECONDS)
    plan = resolve_sandbox(SandboxConfig(), SandboxFlags(full_auto=True, add_dirs=(str(tmp_path),)),
                           cwd=worktree, env={}).plan
    gitdir = repo / ".git" / "worktrees" / "wt"
    [holder] = [root for root in plan.writable_roots if root.path == tmp_path]
    # Listed under the root that holds it, so every backend (Seatbelt's per-root clauses
    # too) keeps it read-only there.
    assert gitdir in holder.read_only_subpaths


def test_a_missing_gitdir_inside_a_writable_root_is_kept_from_being_created(
        tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / ".git").write_text("gitdir: gitdirs/main\n")
    plan = resolve_sandbox(SandboxConfig(), SandboxFlags(full_auto=True), cwd=ws, env={}).plan
    [root] = [root for root in plan.writable_roots if root.path == ws]
    assert ws / "gitdirs" / "main" in root.read_only_subpaths


def test_the_llmx_home_is_protected_where_a_writable_root_holds_it(tmp_path: Path) -> None:
    home = tmp_path / ".llmx"
    home.mkdir()
    resolved = resolve_sandbox(SandboxConfig(), SandboxFlags(full_auto=True), cwd=tmp_path,
                               env={"HOME": str(tmp_path)})
    [root] = [root for root in resolved.plan.writable_roots if root.path == tmp_path]
    assert home in root.read_only_subpaths
    assert resolved.protected_homes[home] == "llmx home"
    # Not held by a writable root: nothing to protect.
    elsewhere = tmp_path / "project"
    elsewhere.mkdir()
    plan = resolve_sandbox(
        SandboxConfig(sandbox_workspace_write={"exclude_slash_tmp": True,
                                               "exclude_tmpdir_env_var": True}),
        SandboxFlags(full_auto=True), cwd=elsewhere, env={"HOME": str(tmp_path)}).plan
    assert all(home not in root.read_only_subpaths for root in plan.writable_roots)


def test_a_codex_home_and_an_explicit_write_entry(tmp_path: Path) -> None:
    codex = tmp_path / "codex-home"
    codex.mkdir()
    env = {"HOME": str(tmp_path), "CODEX_HOME": str(codex)}
    plan = resolve_sandbox(SandboxConfig(), SandboxFlags(full_auto=True), cwd=tmp_path,
                           env=env).plan
    assert codex in plan.writable_roots[0].read_only_subpaths
    # An entry naming the home itself is the user's explicit choice.
    config = SandboxConfig(permissions={"own": {"extends": ":workspace", "filesystem": {
        str(codex): "write"}}})
    plan = resolve_sandbox(config, SandboxFlags(permission_profile="own"), cwd=tmp_path,
                           env=env).plan
    assert all(codex not in root.read_only_subpaths for root in plan.writable_roots)


def test_a_home_that_is_a_link_in_a_writable_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dotfiles" / "llmx").mkdir(parents=True)
    (tmp_path / ".llmx").symlink_to(tmp_path / "dotfiles" / "llmx")
    with pytest.raises(PolicyError, match=(
            f"cannot enforce sandbox read-only path {tmp_path / '.llmx'} because it crosses "
            f"writable symlink {tmp_path / '.llmx'}")):
        resolve_sandbox(SandboxConfig(), SandboxFlags(full_auto=True), cwd=tmp_path,
                        env={"HOME": str(tmp_path)})
