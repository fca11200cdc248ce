"""Permission profiles by name: the built-ins and ``[permissions.NAME]`` config tables.

::

    default_permissions = "dev"          # or ":read-only", ":workspace", ":danger-full-access"
    [permissions.dev]
    extends = ":workspace"
    workspace_roots = ["/srv/shared"]
    [permissions.dev.filesystem]
    glob_scan_max_depth = 4
    ":root" = "read"
    "~/.cache" = "write"
    ":workspace_roots" = { "." = "write", ".git" = "read", "**/*.env" = "deny" }
    [permissions.dev.network]
    enabled = false

Built-in names start with ``:``; a user profile may not. Unknown ``:`` path tokens from a
newer Codex are kept and ignored with a warning, never an error (Codex 0.112 rejected them
and broke every older binary reading a newer config).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from llmx.sandbox.plan import NetworkAccess
from llmx.sandbox.policy import (
    DangerFullAccessPolicy,
    ExternalSandboxPolicy,
    PolicyError,
    ReadOnlyPolicy,
    SandboxPolicy,
    WorkspaceWritePolicy,
)
from llmx.sandbox.profiles import (
    Enforcement,
    FileSystemPolicy,
    FsAccess,
    FsEntry,
    FsKind,
    FsPath,
    GlobPattern,
    PermissionProfile,
    SpecialKind,
    SpecialPath,
)
from llmx.sandbox.protected import PROTECTED_METADATA_NAMES
from llmx.sandbox.value import Value

READ_ONLY_ID = ":read-only"
WORKSPACE_ID = ":workspace"
DANGER_FULL_ACCESS_ID = ":danger-full-access"
BUILTIN_IDS: tuple[str, ...] = (READ_ONLY_ID, WORKSPACE_ID, DANGER_FULL_ACCESS_ID)

_GLOB_CHARS = frozenset("*?[]")
_SPECIAL_TOKENS: dict[str, SpecialKind] = {
    ":root": SpecialKind.ROOT,
    ":minimal": SpecialKind.MINIMAL,
    ":tmpdir": SpecialKind.TMPDIR,
    ":slash_tmp": SpecialKind.SLASH_TMP,
    ":workspace_roots": SpecialKind.PROJECT_ROOTS,
    # The spelling of early 2026 configs; accepted so those configs keep their meaning.
    ":project_roots": SpecialKind.PROJECT_ROOTS,
    ":cwd": SpecialKind.CURRENT_WORKING_DIRECTORY,
}


class NamedProfile(Value):
    """A profile chosen by name, before symbolic roots are resolved."""

    __slots__ = ("id", "profile", "warnings", "workspace_roots")

    def __init__(
        self,
        id: str,
        profile: PermissionProfile,
        workspace_roots: tuple[Path, ...] = (),
        warnings: tuple[str, ...] = (),
    ) -> None:
        self.id = id
        self.profile = profile
        # Extra workspace roots the profile adds (``workspace_roots = [...]``).
        self.workspace_roots = workspace_roots
        self.warnings = warnings

    def _compared(self) -> tuple[object, ...]:
        # warnings left out of == and hash
        return (self.id, self.profile, self.workspace_roots)


def _entry(path: FsPath, access: FsAccess, *, skip: bool = False) -> FsEntry:
    return FsEntry(path=path, access=access, skip_if_missing=skip)


_ROOT_READ = _entry(SpecialPath(SpecialKind.ROOT), FsAccess.READ)


def builtin_profile(
    profile_id: str,
    *,
    network_access: bool = False,
    exclude_tmpdir_env_var: bool = False,
    exclude_slash_tmp: bool = False,
) -> PermissionProfile:
    """A built-in profile. ``:workspace`` honours the ``[sandbox_workspace_write]`` flags."""
    if profile_id == READ_ONLY_ID:
        return PermissionProfile(Enforcement.MANAGED, FileSystemPolicy(entries=(_ROOT_READ,)))
    if profile_id == DANGER_FULL_ACCESS_ID:
        return PermissionProfile(Enforcement.DISABLED, FileSystemPolicy(FsKind.UNRESTRICTED))
    if profile_id == WORKSPACE_ID:
        entries = [_ROOT_READ, _entry(SpecialPath(SpecialKind.PROJECT_ROOTS), FsAccess.WRITE)]
        if not exclude_slash_tmp:
            entries.append(_entry(SpecialPath(SpecialKind.SLASH_TMP), FsAccess.WRITE))
        if not exclude_tmpdir_env_var:
            entries.append(_entry(SpecialPath(SpecialKind.TMPDIR), FsAccess.WRITE))
        entries.extend(
            _entry(SpecialPath(SpecialKind.PROJECT_ROOTS, subpath=name), FsAccess.READ, skip=True)
            for name in PROTECTED_METADATA_NAMES
        )
        network = NetworkAccess.ENABLED if network_access else NetworkAccess.RESTRICTED
        return PermissionProfile(
            Enforcement.MANAGED, FileSystemPolicy(entries=tuple(entries)), network
        )
    accepted = ", ".join(BUILTIN_IDS)
    raise PolicyError(f"unknown built-in permission profile {profile_id!r}",
                      f"use one of {accepted}")


def profile_for_policy(policy: SandboxPolicy, cwd: Path) -> PermissionProfile:
    """The permission profile Codex writes beside a legacy ``sandbox_policy``.

    Workspace roots are written as concrete paths, the protected metadata of each as
    ``read`` entries with ``missing_path_behavior: skip``, in Codex's order.
    """
    if isinstance(policy, DangerFullAccessPolicy):
        return builtin_profile(DANGER_FULL_ACCESS_ID)
    if isinstance(policy, ExternalSandboxPolicy):
        return PermissionProfile(
            Enforcement.EXTERNAL, FileSystemPolicy(FsKind.EXTERNAL_SANDBOX), policy.network_access
        )
    if isinstance(policy, ReadOnlyPolicy):
        network = NetworkAccess.ENABLED if policy.network_access else NetworkAccess.RESTRICTED
        return PermissionProfile(
            Enforcement.MANAGED, FileSystemPolicy(entries=(_ROOT_READ,)), network
        )
    assert isinstance(policy, WorkspaceWritePolicy)
    roots = [cwd, *(r for r in policy.writable_roots if r != cwd)]
    entries = [_ROOT_READ, _entry(cwd, FsAccess.WRITE)]
    if not policy.exclude_slash_tmp:
        entries.append(_entry(SpecialPath(SpecialKind.SLASH_TMP), FsAccess.WRITE))
    if not policy.exclude_tmpdir_env_var:
        entries.append(_entry(SpecialPath(SpecialKind.TMPDIR), FsAccess.WRITE))
    entries.extend(_entry(root, FsAccess.WRITE) for root in roots[1:])
    for root in roots:
        entries.extend(
            _entry(root / name, FsAccess.READ, skip=True) for name in PROTECTED_METADATA_NAMES
        )
    network = NetworkAccess.ENABLED if policy.network_access else NetworkAccess.RESTRICTED
    return PermissionProfile(Enforcement.MANAGED, FileSystemPolicy(entries=tuple(entries)), network)


# --- [permissions.NAME] tables -------------------------------------------------------


def _expand_user(raw: str, home: Path) -> str:
    if raw == "~":
        return str(home)
    if raw.startswith("~/"):
        return str(home / raw[2:])
    return raw


def _has_glob(text: str) -> bool:
    return any(ch in _GLOB_CHARS for ch in text)


def _check_subpath(base: str, sub: str, where: str) -> None:
    if sub == ".":
        return
    parts = sub.split("/")
    if sub.startswith("/") or any(part in (".", "..", "") for part in parts):
        raise PolicyError(f"{where}: subpath {sub!r} of {base!r} is not a plain relative path",
                          "write it without '.', '..' or a leading '/'")


def _path_entry(key: str, access: FsAccess, where: str, home: Path) -> FsEntry:
    """One ``"/abs" = "access"`` entry (a ``/**`` suffix on read/write means the subtree)."""
    raw = _expand_user(key, home)
    if access is not FsAccess.DENY and raw.endswith("/**") and not _has_glob(raw[:-3]):
        raw = raw[:-3] or "/"
    if _has_glob(raw):
        if access is not FsAccess.DENY:
            raise PolicyError(f'{where}: glob {key!r} is only allowed with "deny"',
                              f"use a plain path for {access.value}")
        if not raw.startswith("/"):
            raise PolicyError(f"{where}: glob {key!r} is relative",
                              "start it with / or ~/")
        return _entry(GlobPattern(raw), access)
    if not raw.startswith("/"):
        raise PolicyError(f"{where}: path {key!r} is relative",
                          "use an absolute path, or one starting with ~/")
    return _entry(Path(raw), access)


def _special_entries(kind: SpecialKind, key: str, value: object, where: str) -> list[FsEntry]:
    if isinstance(value, str):
        return [_entry(SpecialPath(kind), FsAccess.parse(value, where=f"{where}.{key}"))]
    if not isinstance(value, dict) or kind not in (
        SpecialKind.PROJECT_ROOTS,
        SpecialKind.CURRENT_WORKING_DIRECTORY,
    ):
        raise PolicyError(f"{where}: {key!r} is not an access",
                          'set it to "read", "write" or "deny"')
    entries = []
    for sub, sub_access in value.items():
        access = FsAccess.parse(sub_access, where=f"{where}.{key}.{sub}")
        if _has_glob(sub) and access is not FsAccess.DENY:
            if not (sub.endswith("/**") and not _has_glob(sub[:-3])):
                raise PolicyError(
                    f'{where}: glob {sub!r} under {key!r} is only allowed with "deny"',
                    f"use a plain subpath for {access.value}",
                )
            sub = sub[:-3]
        if not _has_glob(sub):
            _check_subpath(key, sub, where)
        subpath = None if sub == "." else sub
        entries.append(_entry(SpecialPath(kind, subpath=subpath), access))
    return entries


def _filesystem_entries(
    table: Mapping[str, object], where: str, home: Path, warnings: list[str]
) -> tuple[list[FsEntry], int | None]:
    entries: list[FsEntry] = []
    depth: int | None = None
    for key, value in table.items():
        if key == "glob_scan_max_depth":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise PolicyError(
                    f"{where}.glob_scan_max_depth must be an integer >= 1, got {value!r}",
                    "set it to 1 or more, or leave it out",
                )
            depth = value
        elif key.startswith(":"):
            kind = _SPECIAL_TOKENS.get(key)
            if kind is None:
                warnings.append(f"{where}: unknown special path {key!r} ignored")
                entries.append(_entry(SpecialPath(SpecialKind.UNKNOWN, token=key), FsAccess.READ))
                continue
            entries.extend(_special_entries(kind, key, value, where))
        elif isinstance(value, dict):
            base = _expand_user(key, home)
            for sub, sub_access in value.items():
                access = FsAccess.parse(sub_access, where=f"{where}.{key}.{sub}")
                if not _has_glob(sub):
                    _check_subpath(key, sub, where)
                joined = base if sub == "." else f"{base.rstrip('/')}/{sub}"
                entries.append(_path_entry(joined, access, where, home))
        else:
            entries.append(
                _path_entry(key, FsAccess.parse(value, where=f"{where}.{key}"), where, home)
            )
    return entries, depth


def _network_from_table(table: object, where: str, warnings: list[str]) -> NetworkAccess | None:
    if table is None:
        return None
    if not isinstance(table, dict):
        raise PolicyError(f"{where}.network must be a table",
                          f"write it as [{where}.network] with enabled = true or false")
    warnings.extend(
        f"{where}.network.{key} is not supported (no managed proxy); ignored"
        for key in table
        if key != "enabled"
    )
    enabled = table.get("enabled")
    if enabled is None:
        return None
    if not isinstance(enabled, bool):
        raise PolicyError(f"{where}.network.enabled must be true or false, got {enabled!r}",
                          "set it to true or false")
    return NetworkAccess.ENABLED if enabled else NetworkAccess.RESTRICTED


def named_profile(
    name: str,
    permissions: Mapping[str, object],
    *,
    home: Path,
    workspace_write: Mapping[str, object] | None = None,
    _chain: tuple[str, ...] = (),
) -> NamedProfile:
    """Resolve profile ``name`` (built-in or ``[permissions.NAME]``), following ``extends``."""
    ws = workspace_write or {}
    if name.startswith(":"):
        profile = builtin_profile(
            name,
            network_access=bool(ws.get("network_access", False)),
            exclude_tmpdir_env_var=bool(ws.get("exclude_tmpdir_env_var", False)),
            exclude_slash_tmp=bool(ws.get("exclude_slash_tmp", False)),
        )
        return NamedProfile(name, profile)
    if not permissions:
        raise PolicyError(
            f"permission profile {name!r} is not defined: there is no [permissions] table",
            f"define [permissions.{name}] or use one of {', '.join(BUILTIN_IDS)}",
        )
    table = permissions.get(name)
    if not isinstance(table, dict):
        defined = ", ".join(sorted(permissions)) or "none"
        raise PolicyError(
            f"unknown permission profile {name!r} (defined: {defined})",
            f"define [permissions.{name}] or use one of those or {', '.join(BUILTIN_IDS)}",
        )
    if name in _chain:
        raise PolicyError(
            f"permission profile {name!r} extends itself ({' -> '.join((*_chain, name))})",
            "end the chain of extends at a built-in profile or one that extends nothing",
        )
    where = f"permissions.{name}"
    warnings: list[str] = []
    base_entries: tuple[FsEntry, ...] = ()
    network = NetworkAccess.RESTRICTED
    roots: tuple[Path, ...] = ()
    depth: int | None = None
    parent = table.get("extends")
    if parent is not None:
        if not isinstance(parent, str):
            raise PolicyError(f"{where}.extends must be a profile name",
                              "set it to a profile's name as text")
        inherited = named_profile(
            parent, permissions, home=home, workspace_write=ws, _chain=(*_chain, name)
        )
        if inherited.profile.enforcement is not Enforcement.MANAGED:
            raise PolicyError(
                f"{where} cannot extend {parent!r}: it has no file system rules to extend",
                f"extend {READ_ONLY_ID}, {WORKSPACE_ID} or a profile of yours instead",
            )
        base_entries = inherited.profile.file_system.entries
        network = inherited.profile.network
        roots = inherited.workspace_roots
        depth = inherited.profile.file_system.glob_scan_max_depth
        warnings.extend(inherited.warnings)
    fs_table = table.get("filesystem", {})
    if not isinstance(fs_table, dict):
        raise PolicyError(f"{where}.filesystem must be a table",
                          f"write it as [{where}.filesystem]")
    own_entries, own_depth = _filesystem_entries(fs_table, f"{where}.filesystem", home, warnings)
    own_network = _network_from_table(table.get("network"), where, warnings)
    extra_roots = table.get("workspace_roots", [])
    if not isinstance(extra_roots, list) or not all(isinstance(r, str) for r in extra_roots):
        raise PolicyError(f"{where}.workspace_roots must be a list of absolute paths",
                          'write it as workspace_roots = ["/abs/path", ...]')
    for raw in extra_roots:
        expanded = _expand_user(raw, home)
        if not expanded.startswith("/"):
            raise PolicyError(f"{where}.workspace_roots: {raw!r} is relative",
                              "use an absolute path, or one starting with ~/")
        roots = (*roots, Path(expanded))
    profile = PermissionProfile(
        Enforcement.MANAGED,
        FileSystemPolicy(
            entries=(*base_entries, *own_entries),
            glob_scan_max_depth=own_depth if own_depth is not None else depth,
        ),
        own_network if own_network is not None else network,
    )
    return NamedProfile(name, profile, roots, tuple(warnings))
