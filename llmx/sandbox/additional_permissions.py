"""What one command asks for beyond the turn's sandbox: Codex's ``additional_permissions``.

A model that needs one more writable folder, or the network, for one command sends
``sandbox_permissions: "with_additional_permissions"`` with::

    "additional_permissions": {"network": {"enabled": true},
                               "file_system": {"read": ["/abs"], "write": ["/abs"]}}

(or the canonical ``"file_system": {"entries": [{"path": ..., "access": ...}]}``). Once
approved, the command runs confined by the turn's permission profile with these entries
appended and the network enabled if asked (Codex's ``ResolvedPermissionProfile``), never
unconfined: the plan is built again from that profile, so protected metadata, the homes
and deny entries still hold. The texts of the refusals are Codex's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from llmx.sandbox.env_policy import NETWORK_DISABLED_ENV_VAR
from llmx.sandbox.plan import ConfinementPlan, NetworkAccess
from llmx.sandbox.plan_builder import build_plan
from llmx.sandbox.policy import PolicyError
from llmx.sandbox.profiles import (
    Enforcement,
    FileSystemPolicy,
    FsAccess,
    FsEntry,
    FsKind,
    PermissionProfile,
    entry_from_dict,
    entry_to_dict,
    profile_to_dict,
)
from llmx.sandbox.resolve import ResolvedSandbox
from llmx.sandbox.value import Value

if TYPE_CHECKING:
    from typing import Any

MISSING = (
    "missing `additional_permissions`; provide at least one of `network` or `file_system` "
    "when using `with_additional_permissions`"
)
EMPTY = (
    "`additional_permissions` must include at least one requested permission in `network` "
    "or `file_system`"
)
WITHOUT_MODE = (
    "`additional_permissions` requires `sandbox_permissions` set to "
    "`with_additional_permissions`"
)


class AdditionalPermissions(Value):
    """A normalised request: absolute paths, no duplicates, empty parts dropped."""

    __slots__ = ("entries", "network")

    def __init__(self, entries: tuple[FsEntry, ...] = (), network: bool | None = None) -> None:
        self.entries = entries
        # ``network.enabled`` as asked; None when the request does not mention the network.
        self.network = network

    @property
    def is_empty(self) -> bool:
        return not self.entries and self.network is None

    def to_dict(self) -> dict[str, Any]:
        """Codex's ``AdditionalPermissionProfile`` JSON (canonical ``entries`` form)."""
        out: dict[str, Any] = {}
        if self.network is not None:
            out["network"] = {"enabled": self.network}
        if self.entries:
            out["file_system"] = {"entries": [entry_to_dict(e) for e in self.entries]}
        return out


def _absolute(raw: object, cwd: Path) -> Path:
    if not isinstance(raw, str) or not raw:
        raise PolicyError(f"additional_permissions: path {raw!r} must be a non-empty string")
    path = Path(raw).expanduser()
    return Path(os.path.normpath(path if path.is_absolute() else cwd / path))


def _file_system_entries(value: object, cwd: Path) -> list[FsEntry]:
    if not isinstance(value, Mapping):
        raise PolicyError("additional_permissions.file_system must be an object")
    if "entries" in value:
        raw_entries = value["entries"]
        if not isinstance(raw_entries, list):
            raise PolicyError("additional_permissions.file_system.entries must be a list")
        if not all(isinstance(e, Mapping) for e in raw_entries):
            raise PolicyError("additional_permissions.file_system.entries must hold objects")
        return [entry_from_dict(e) for e in raw_entries]
    entries: list[FsEntry] = []
    for key, access in (("read", FsAccess.READ), ("write", FsAccess.WRITE)):
        paths = value.get(key) or []
        if not isinstance(paths, list):
            raise PolicyError(f"additional_permissions.file_system.{key} must be a list of paths")
        entries.extend(FsEntry(_absolute(p, cwd), access) for p in paths)
    return entries


def _network(value: object) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Mapping):
        enabled = value.get("enabled")
        if enabled is None or isinstance(enabled, bool):
            return enabled
    raise PolicyError('additional_permissions.network must be {"enabled": true|false}')


def parse_additional_permissions(value: object, *, cwd: Path) -> AdditionalPermissions:
    """Normalise the tool argument; relative paths are relative to the command's cwd."""
    if not isinstance(value, Mapping):
        raise PolicyError("additional_permissions must be an object")
    entries: list[FsEntry] = []
    file_system = value.get("file_system")
    if file_system is not None:
        for entry in _file_system_entries(file_system, cwd):
            if entry not in entries:
                entries.append(entry)
    return AdditionalPermissions(tuple(entries), _network(value.get("network")))


def widen_profile(profile: PermissionProfile, extra: AdditionalPermissions) -> PermissionProfile:
    """``profile`` with ``extra`` merged in: entries appended, the network OR-ed."""
    if profile.enforcement is not Enforcement.MANAGED:
        return profile
    network = profile.network
    if extra.network:
        network = NetworkAccess.ENABLED
    fs = profile.file_system
    if fs.kind is FsKind.RESTRICTED:
        merged = list(fs.entries)
        merged.extend(e for e in extra.entries if e not in merged)
        fs = FileSystemPolicy(fs.kind, tuple(merged), fs.glob_scan_max_depth)
    return PermissionProfile(profile.enforcement, fs, network)


def denies_reads(resolved: ResolvedSandbox) -> bool:
    """The sandbox is the only thing enforcing a ``deny`` entry: running a command
    unconfined would grant those reads (Codex's ``has_denied_read_restrictions``)."""
    if resolved.plan.unconfined:
        return False
    return bool(resolved.plan.denied_paths) or any(
        entry.access is FsAccess.DENY for entry in resolved.profile.file_system.entries
    )


class BoundedSandbox(Value):
    """The sandbox of one approved ``with_additional_permissions`` command."""

    __slots__ = ("plan", "profile", "requested")

    def __init__(
        self,
        requested: AdditionalPermissions,
        profile: PermissionProfile,
        plan: ConfinementPlan,
    ) -> None:
        self.requested = requested
        # The turn's profile with the request merged in: what the command runs under.
        self.profile = profile
        self.plan = plan

    def escalation_permissions(self) -> dict[str, Any]:
        """What the ``escalation`` line records: Codex's ``ResolvedPermissionProfile``
        (the profile that replaces the turn's for this command) and the request."""
        return {
            "type": "resolved_permission_profile",
            "permission_profile": profile_to_dict(self.profile),
            "additional_permissions": self.requested.to_dict(),
        }


def bounded_sandbox(resolved: ResolvedSandbox, extra: AdditionalPermissions) -> BoundedSandbox:
    """The plan for ``extra`` on top of the turn's sandbox; raises ``PolicyError`` when it
    cannot be enforced (a carve-out behind a writable link, say)."""
    profile = widen_profile(resolved.profile, extra)
    env = dict(resolved.plan.env)
    if profile.network is NetworkAccess.ENABLED:
        env.pop(NETWORK_DISABLED_ENV_VAR, None)
    plan, _ = build_plan(
        profile, cwd=resolved.cwd, workspace_roots=resolved.workspace_roots,
        env=resolved.parent_env, child_env=env, protected_homes=tuple(resolved.protected_homes),
    )
    return BoundedSandbox(extra, profile, plan)
