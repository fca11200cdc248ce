"""Which sandbox applies: config values and CLI flags to a policy, a profile and a plan.

The order (first that applies wins):
1. ``--dangerously-bypass-approvals-and-sandbox``: danger-full-access.
2. ``-P/--permission-profile NAME``: that profile.
3. ``-s/--sandbox MODE``, or ``--full-auto`` (= workspace-write).
4. ``default_permissions`` in config: that profile (profiles and ``sandbox_mode`` are two
   vocabularies for one thing; when both are set the profile wins and ``--explain`` says so).
5. ``sandbox_mode`` of the active ``[profiles.NAME]``, then the top-level ``sandbox_mode``.
6. A project whose ``trust_level`` is ``trusted`` or ``untrusted``: workspace-write.
7. read-only.

``--add-dir`` adds workspace roots; under read-only and danger-full-access it has no
effect (as in Codex), and ``--explain`` says so.

The runtime's config layer calls ``resolve_sandbox`` with already-parsed values; only
``llmx sandbox`` builds ``SandboxConfig`` from a TOML mapping itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from llmx.sandbox.env_policy import NETWORK_DISABLED_ENV_VAR, ShellEnvironmentPolicy, build_env
from llmx.sandbox.plan import ConfinementPlan, NetworkAccess
from llmx.sandbox.plan_builder import ResolvedFileSystem, build_plan, materialize, normalize
from llmx.sandbox.policy import (
    DangerFullAccessPolicy,
    ExternalSandboxPolicy,
    FlagError,
    PolicyError,
    ReadOnlyPolicy,
    SandboxMode,
    SandboxPolicy,
    WorkspaceWritePolicy,
)
from llmx.sandbox.profile_config import named_profile, profile_for_policy
from llmx.sandbox.profiles import (
    Enforcement,
    FsAccess,
    PermissionProfile,
    SpecialKind,
    SpecialPath,
)
from llmx.sandbox.protected import agent_homes
from llmx.sandbox.value import Value


class SandboxConfig(Value):
    """The config keys that decide the sandbox, already parsed."""

    __slots__ = (
        "default_permissions",
        "permissions",
        "profile_sandbox_mode",
        "project_trust",
        "sandbox_mode",
        "sandbox_workspace_write",
        "shell_environment_policy",
    )

    def __init__(
        self,
        sandbox_mode: str | None = None,
        profile_sandbox_mode: str | None = None,
        sandbox_workspace_write: Mapping[str, object] | None = None,
        default_permissions: str | None = None,
        permissions: Mapping[str, object] | None = None,
        project_trust: str | None = None,
        shell_environment_policy: Mapping[str, object] | None = None,
    ) -> None:
        self.sandbox_mode = sandbox_mode
        # ``sandbox_mode`` inside the active ``[profiles.NAME]`` (the ``-p`` config profile).
        self.profile_sandbox_mode = profile_sandbox_mode
        self.sandbox_workspace_write = (
            {} if sandbox_workspace_write is None else sandbox_workspace_write
        )
        self.default_permissions = default_permissions
        self.permissions = {} if permissions is None else permissions
        # ``[projects."<cwd>"].trust_level``.
        self.project_trust = project_trust
        self.shell_environment_policy = (
            {} if shell_environment_policy is None else shell_environment_policy
        )

    @classmethod
    def from_mapping(
        cls, config: Mapping[str, object], *, cwd: Path, config_profile: str | None = None
    ) -> SandboxConfig:
        """Pick the sandbox keys out of a whole ``config.toml`` mapping."""
        profile_table: Mapping[str, object] = {}
        if config_profile is not None:
            profiles = config.get("profiles", {})
            if not isinstance(profiles, dict) or config_profile not in profiles:
                raise PolicyError(
                    f"config profile {config_profile!r} is not defined under [profiles]",
                    f"define [profiles.{config_profile}] in config.toml, or pass another -p",
                )
            profile_table = profiles[config_profile]
        projects = config.get("projects", {})
        trust = None
        if isinstance(projects, dict):
            project = projects.get(str(cwd), {})
            if isinstance(project, dict):
                trust = project.get("trust_level")

        def table(key: str) -> Mapping[str, object]:
            value = config.get(key, {})
            if not isinstance(value, dict):
                raise PolicyError(f"config key {key!r} must be a table", FIX_CONFIG)
            return value

        def text(value: object, key: str) -> str | None:
            if value is None or isinstance(value, str):
                return value
            raise PolicyError(f"config key {key!r} must be a string, got {value!r}", FIX_CONFIG)

        return cls(
            sandbox_mode=text(config.get("sandbox_mode"), "sandbox_mode"),
            profile_sandbox_mode=text(profile_table.get("sandbox_mode"), "sandbox_mode"),
            sandbox_workspace_write=table("sandbox_workspace_write"),
            default_permissions=text(
                profile_table.get("default_permissions", config.get("default_permissions")),
                "default_permissions",
            ),
            permissions=table("permissions"),
            project_trust=text(trust, "trust_level"),
            shell_environment_policy=table("shell_environment_policy"),
        )


class SandboxFlags(Value):
    __slots__ = ("add_dirs", "bypass", "full_auto", "permission_profile", "sandbox")

    def __init__(
        self,
        sandbox: str | None = None,
        full_auto: bool = False,
        bypass: bool = False,
        permission_profile: str | None = None,
        add_dirs: tuple[str, ...] = (),
    ) -> None:
        self.sandbox = sandbox
        self.full_auto = full_auto
        self.bypass = bypass
        self.permission_profile = permission_profile
        self.add_dirs = add_dirs


class ResolvedSandbox(Value):
    __slots__ = (
        "cwd",
        "parent_env",
        "plan",
        "policy",
        "profile",
        "profile_id",
        "protected_homes",
        "reasons",
        "resolved_fs",
        "warnings",
        "workspace_roots",
    )

    def __init__(
        self,
        policy: SandboxPolicy,
        profile: PermissionProfile,
        profile_id: str | None,
        plan: ConfinementPlan,
        cwd: Path,
        workspace_roots: tuple[Path, ...],
        resolved_fs: ResolvedFileSystem | None,
        protected_homes: Mapping[Path, str] | None = None,
        parent_env: Mapping[str, str] | None = None,
        reasons: tuple[str, ...] = (),
        warnings: tuple[str, ...] = (),
    ) -> None:
        # The legacy form written as ``turn_context.sandbox_policy``.
        self.policy = policy
        # The profile with workspace roots written out, as ``turn_context.permission_profile``.
        self.profile = profile
        # ``active_permission_profile.id`` when a named profile was chosen.
        self.profile_id = profile_id
        self.plan = plan
        self.cwd = cwd
        self.workspace_roots = workspace_roots
        self.resolved_fs = resolved_fs
        # The homes kept read-only wherever a writable root holds them, with what each is.
        self.protected_homes = {} if protected_homes is None else protected_homes
        # The environment the plan was resolved in (``$TMPDIR``...), to resolve a widened
        # profile the same way (``additional_permissions.bounded_sandbox``).
        self.parent_env = {} if parent_env is None else parent_env
        # Why each decision was taken, in order; printed by ``--explain``.
        self.reasons = reasons
        self.warnings = warnings

    def _compared(self) -> tuple[object, ...]:
        # parent_env left out of == and hash
        return (self.policy, self.profile, self.profile_id, self.plan, self.cwd,
                self.workspace_roots, self.resolved_fs, self.protected_homes, self.reasons,
                self.warnings)


# What to do about a sandbox key of the configuration that cannot be used.
FIX_CONFIG = "fix it in config.toml, or in the -c that sets it"


def _absolute_dirs(raw: tuple[str, ...] | list[object], cwd: Path, *, what: str) -> list[Path]:
    out: list[Path] = []
    for item in raw:
        if not isinstance(item, str):
            raise PolicyError(f"{what} {item!r} must be a path string", "give a path as text")
        path = normalize(cwd / Path(item).expanduser())
        if path not in out:
            out.append(path)
    return out


def _writable_roots_from_config(table: Mapping[str, object]) -> list[Path]:
    raw = table.get("writable_roots", [])
    if not isinstance(raw, list):
        raise PolicyError("sandbox_workspace_write.writable_roots must be a list of absolute paths",
                          FIX_CONFIG)
    roots = []
    for item in raw:
        if not isinstance(item, str) or not Path(item).expanduser().is_absolute():
            raise PolicyError(
                f"sandbox_workspace_write.writable_roots: {item!r} is not an absolute path",
                "writable roots must be absolute: " + FIX_CONFIG,
            )
        roots.append(normalize(Path(item).expanduser()))
    return roots


def _ws_bool(table: Mapping[str, object], key: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise PolicyError(f"sandbox_workspace_write.{key} must be true or false, got {value!r}",
                          FIX_CONFIG)
    return value


def legacy_policy_for(profile: PermissionProfile, cwd: Path, roots: list[Path]) -> SandboxPolicy:
    """The closest legacy ``sandbox_policy`` for a profile (Codex writes both)."""
    if profile.enforcement is Enforcement.DISABLED:
        return DangerFullAccessPolicy()
    if profile.enforcement is Enforcement.EXTERNAL:
        return ExternalSandboxPolicy(profile.network)
    network = profile.network is NetworkAccess.ENABLED
    writes = [e for e in profile.file_system.entries if e.access is FsAccess.WRITE]
    if not writes:
        return ReadOnlyPolicy(network_access=network)
    kinds = {e.path.kind for e in writes if isinstance(e.path, SpecialPath)}
    extra = tuple(
        e.path for e in writes if isinstance(e.path, Path) and e.path != cwd and e.path in roots
    )
    return WorkspaceWritePolicy(
        writable_roots=extra,
        network_access=network,
        exclude_tmpdir_env_var=SpecialKind.TMPDIR not in kinds,
        exclude_slash_tmp=SpecialKind.SLASH_TMP not in kinds,
    )


def resolve_sandbox(
    config: SandboxConfig,
    flags: SandboxFlags,
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    thread_id: str | None = None,
    home: Path | None = None,
) -> ResolvedSandbox:
    """The effective sandbox. Raises ``PolicyError`` (one line) on any bad input."""
    parent_env = dict(os.environ if env is None else env)
    if not cwd.is_absolute():
        raise PolicyError(f"sandbox cwd {str(cwd)!r} must be absolute")
    cwd = normalize(cwd)
    home = home or Path(parent_env.get("HOME") or Path.home())
    reasons: list[str] = []
    warnings: list[str] = []
    if flags.bypass and flags.full_auto:
        raise FlagError(
            "--full-auto and --dangerously-bypass-approvals-and-sandbox cannot be used together",
            "pass only one of them",
        )
    if flags.permission_profile is not None and (flags.sandbox is not None or flags.full_auto):
        raise FlagError(
            "--permission-profile cannot be combined with --sandbox or --full-auto",
            "pass only one of them",
        )
    flag_mode = None
    if flags.sandbox is not None:
        flag_mode = SandboxMode.parse(flags.sandbox, source="--sandbox")
        if flags.full_auto and flag_mode is not SandboxMode.WORKSPACE_WRITE:
            raise FlagError(
                f"--full-auto means workspace-write and conflicts with --sandbox {flag_mode.value}",
                "pass only one of them",
            )
    add_dirs = _absolute_dirs(flags.add_dirs, cwd, what="--add-dir")
    for directory in add_dirs:
        if not directory.is_dir():
            raise FlagError(f"--add-dir {str(directory)!r}: no such directory",
                            "pass an existing directory")
    ws_table = config.sandbox_workspace_write

    profile_name: str | None = None
    mode: SandboxMode | None = None
    if flags.bypass:
        mode = SandboxMode.DANGER_FULL_ACCESS
        reasons.append("--dangerously-bypass-approvals-and-sandbox: no sandbox")
    elif flags.permission_profile is not None:
        profile_name = flags.permission_profile
        reasons.append(f"--permission-profile {profile_name}")
    elif flag_mode is not None or flags.full_auto:
        mode = flag_mode or SandboxMode.WORKSPACE_WRITE
        reasons.append(
            "--full-auto: workspace-write" if flag_mode is None else f"--sandbox {mode.value}"
        )
    elif config.default_permissions is not None:
        profile_name = config.default_permissions
        reasons.append(f"default_permissions = {profile_name!r}")
        if config.sandbox_mode or config.profile_sandbox_mode:
            warnings.append("sandbox_mode is ignored because default_permissions is set")
    elif config.profile_sandbox_mode is not None:
        mode = SandboxMode.parse(config.profile_sandbox_mode, source="profile sandbox_mode")
        reasons.append(f"config profile sandbox_mode = {mode.value!r}")
    elif config.sandbox_mode is not None:
        mode = SandboxMode.parse(config.sandbox_mode, source="config sandbox_mode")
        reasons.append(f"sandbox_mode = {mode.value!r}")
    elif config.project_trust in ("trusted", "untrusted"):
        mode = SandboxMode.WORKSPACE_WRITE
        reasons.append(f"project trust_level = {config.project_trust!r}: workspace-write")
    else:
        mode = SandboxMode.READ_ONLY
        reasons.append("nothing configured: read-only (the default)")

    workspace_roots = [cwd]
    if profile_name is not None:
        named = named_profile(profile_name, config.permissions, home=home, workspace_write=ws_table)
        warnings.extend(named.warnings)
        for root in [*named.workspace_roots, *add_dirs]:
            if root not in workspace_roots:
                workspace_roots.append(root)
        profile = PermissionProfile(
            named.profile.enforcement,
            materialize(named.profile.file_system, cwd, workspace_roots),
            named.profile.network,
        )
        policy = legacy_policy_for(profile, cwd, workspace_roots)
    else:
        assert mode is not None
        if mode is SandboxMode.WORKSPACE_WRITE:
            roots = _writable_roots_from_config(ws_table)
            for root in [*roots, *add_dirs]:
                if root not in workspace_roots:
                    workspace_roots.append(root)
            policy = WorkspaceWritePolicy(
                writable_roots=tuple(workspace_roots[1:]),
                network_access=_ws_bool(ws_table, "network_access"),
                exclude_tmpdir_env_var=_ws_bool(ws_table, "exclude_tmpdir_env_var"),
                exclude_slash_tmp=_ws_bool(ws_table, "exclude_slash_tmp"),
            )
        else:
            if add_dirs:
                warnings.append(f"--add-dir has no effect under {mode.value}")
            policy = ReadOnlyPolicy() if mode is SandboxMode.READ_ONLY else DangerFullAccessPolicy()
        profile = profile_for_policy(policy, cwd)

    env_policy = ShellEnvironmentPolicy.from_mapping(config.shell_environment_policy)
    child_env = build_env(parent_env, env_policy, thread_id=thread_id)
    if (
        profile.network is NetworkAccess.RESTRICTED
        and profile.enforcement is not Enforcement.DISABLED
    ):
        child_env[NETWORK_DISABLED_ENV_VAR] = "1"
    homes = agent_homes(parent_env, home)
    plan, resolved = build_plan(
        profile, cwd=cwd, workspace_roots=workspace_roots, env=parent_env, child_env=child_env,
        protected_homes=tuple(homes),
    )
    if resolved is not None:
        warnings.extend(resolved.warnings)
    return ResolvedSandbox(
        policy=policy,
        profile=profile,
        profile_id=profile_name,
        plan=plan,
        cwd=cwd,
        workspace_roots=tuple(workspace_roots),
        resolved_fs=resolved,
        protected_homes=homes,
        parent_env=parent_env,
        reasons=tuple(reasons),
        warnings=tuple(warnings),
    )
