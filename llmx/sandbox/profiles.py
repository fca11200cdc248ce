"""Permission profiles: Codex's canonical runtime permissions and their JSON.

Codex 0.169 writes a ``permission_profile`` into every ``turn_context``::

    {"type":"managed",
     "file_system":{"type":"restricted","entries":[
         {"path":{"type":"special","value":{"kind":"root"}},"access":"read"},
         {"path":{"type":"path","path":"/home/dev/project"},"access":"write"},
         {"path":{"type":"path","path":"/home/dev/project/.git"},"access":"read",
          "missing_path_behavior":"skip"}]},
     "network":"restricted"}

and a ``file_system_sandbox_policy`` with the same entries under ``"kind"`` instead of
``"type"``. Both decode to the types below. Resolving them to a ``ConfinementPlan`` is the
job of ``llmx.sandbox.resolve``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from pathlib import Path

from llmx.sandbox.plan import NetworkAccess
from llmx.sandbox.policy import PolicyError
from llmx.sandbox.value import Value


class FsAccess(enum.Enum):
    """Access granted by one entry. The order of members is the tie-break order."""

    READ = "read"
    WRITE = "write"
    # Neither read nor write. Older configs and Codex's own serialiser spell it "none".
    DENY = "deny"

    @property
    def rank(self) -> int:
        # Equally specific entries conflict: deny beats write beats read.
        return {FsAccess.READ: 0, FsAccess.WRITE: 1, FsAccess.DENY: 2}[self]

    @classmethod
    def parse(cls, value: object, *, where: str) -> FsAccess:
        if value == "none":
            return cls.DENY
        try:
            return cls(value)
        except ValueError:
            raise PolicyError(f"{where}: access {value!r} is not one of read, write, deny",
                              'set it to "read", "write" or "deny"') from None


class SpecialKind(enum.Enum):
    """Symbolic paths, resolved against the session when a plan is built."""

    # The filesystem root.
    ROOT = "root"
    # The platform's minimal readable set (/usr, /etc, /lib ...).
    MINIMAL = "minimal"
    CURRENT_WORKING_DIRECTORY = "current_working_directory"
    # Each workspace root (cwd plus --add-dir), optionally a subpath of it.
    PROJECT_ROOTS = "project_roots"
    # $TMPDIR when set and non-empty.
    TMPDIR = "tmpdir"
    # /tmp when it is a directory.
    SLASH_TMP = "slash_tmp"
    # A token from a newer Codex; kept so the profile round-trips, ignored when resolving.
    UNKNOWN = "unknown"


class SpecialPath(Value):
    __slots__ = ("kind", "subpath", "token")

    def __init__(
        self,
        kind: SpecialKind,
        subpath: str | None = None,
        token: str | None = None,
    ) -> None:
        self.kind = kind
        self.subpath = subpath
        # Only for UNKNOWN: the token as written.
        self.token = token


class GlobPattern(Value):
    """A glob (``*``, ``?``, ``[...]``, ``**``); only valid with ``deny``."""

    __slots__ = ("pattern",)

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern


FsPath = Path | SpecialPath | GlobPattern


class FsEntry(Value):
    __slots__ = ("access", "path", "skip_if_missing")

    def __init__(self, path: FsPath, access: FsAccess, skip_if_missing: bool = False) -> None:
        self.path = path
        self.access = access
        # ``skip``: a carve-out whose path does not exist is not masked (Codex writes this for
        # the protected metadata entries of the workspace).
        self.skip_if_missing = skip_if_missing


class FsKind(enum.Enum):
    RESTRICTED = "restricted"
    UNRESTRICTED = "unrestricted"
    EXTERNAL_SANDBOX = "external-sandbox"


class FileSystemPolicy(Value):
    __slots__ = ("entries", "glob_scan_max_depth", "kind")

    def __init__(
        self,
        kind: FsKind = FsKind.RESTRICTED,
        entries: tuple[FsEntry, ...] = (),
        glob_scan_max_depth: int | None = None,
    ) -> None:
        self.kind = kind
        self.entries = entries
        # Caps the depth of deny-glob expansion on Linux.
        self.glob_scan_max_depth = glob_scan_max_depth


class Enforcement(enum.Enum):
    """``PermissionProfile.type``."""

    # llmx confines the command itself.
    MANAGED = "managed"
    # No sandbox (danger-full-access).
    DISABLED = "disabled"
    # Someone outside isolates the filesystem; only the network setting is reported.
    EXTERNAL = "external"


class PermissionProfile(Value):
    __slots__ = ("enforcement", "file_system", "network")

    def __init__(
        self,
        enforcement: Enforcement,
        file_system: FileSystemPolicy | None = None,
        network: NetworkAccess = NetworkAccess.RESTRICTED,
    ) -> None:
        self.enforcement = enforcement
        self.file_system = FileSystemPolicy() if file_system is None else file_system
        self.network = network


# --- decoding -------------------------------------------------------------------------


def _special_from_dict(value: Mapping[str, object]) -> SpecialPath:
    kind = value.get("kind")
    subpath = value.get("subpath")
    try:
        special = SpecialKind(kind)
    except ValueError:
        special = SpecialKind.UNKNOWN
    if special is SpecialKind.UNKNOWN:
        token = value.get("path", kind)
        subpath = str(subpath) if subpath is not None else None
        return SpecialPath(SpecialKind.UNKNOWN, subpath=subpath, token=str(token))
    return SpecialPath(special, subpath=str(subpath) if subpath is not None else None)


def _path_from_dict(value: Mapping[str, object]) -> FsPath:
    tag = value.get("type")
    if tag == "path":
        raw = value.get("path")
        if not isinstance(raw, str) or not raw.startswith("/"):
            raise PolicyError(f"permission entry path {raw!r} must be an absolute path")
        return Path(raw)
    if tag == "glob_pattern":
        return GlobPattern(str(value.get("pattern", "")))
    if tag == "special":
        inner = value.get("value")
        if not isinstance(inner, dict):
            raise PolicyError("permission entry of type 'special' has no \"value\" object")
        return _special_from_dict(inner)
    raise PolicyError(
        f"unknown permission entry path type {tag!r}; accepted: path, glob_pattern, special"
    )


def entry_from_dict(value: Mapping[str, object]) -> FsEntry:
    path_obj = value.get("path")
    if not isinstance(path_obj, dict):
        raise PolicyError('permission entry has no "path" object')
    return FsEntry(
        path=_path_from_dict(path_obj),
        access=FsAccess.parse(value.get("access"), where="permission entry"),
        skip_if_missing=value.get("missing_path_behavior") == "skip",
    )


def file_system_from_dict(value: Mapping[str, object]) -> FileSystemPolicy:
    """Either shape: ``{"type": ...}`` (inside a permission profile) or ``{"kind": ...}``
    (``file_system_sandbox_policy``)."""
    raw_kind = value.get("type", value.get("kind", "restricted"))
    if raw_kind == "external":
        raw_kind = "external-sandbox"
    try:
        kind = FsKind(raw_kind)
    except ValueError:
        raise PolicyError(
            f"unknown file system policy kind {raw_kind!r}; accepted: restricted, unrestricted"
        ) from None
    entries = value.get("entries", [])
    if not isinstance(entries, list):
        raise PolicyError('file system policy "entries" must be a list')
    depth = value.get("glob_scan_max_depth")
    return FileSystemPolicy(
        kind=kind,
        entries=tuple(entry_from_dict(e) for e in entries),
        glob_scan_max_depth=int(depth) if isinstance(depth, int) else None,
    )


def _network_from(value: object) -> NetworkAccess:
    try:
        return NetworkAccess(value if value is not None else "restricted")
    except ValueError:
        raise PolicyError(f"network {value!r} is not 'restricted' or 'enabled'") from None


def profile_from_dict(value: Mapping[str, object]) -> PermissionProfile:
    tag = value.get("type")
    if tag == "disabled":
        return PermissionProfile(Enforcement.DISABLED, FileSystemPolicy(FsKind.UNRESTRICTED))
    if tag == "external":
        return PermissionProfile(
            Enforcement.EXTERNAL,
            FileSystemPolicy(FsKind.EXTERNAL_SANDBOX),
            _network_from(value.get("network")),
        )
    if tag == "managed":
        fs = value.get("file_system", {"type": "restricted"})
        if not isinstance(fs, dict):
            raise PolicyError('permission profile "file_system" must be an object')
        return PermissionProfile(
            Enforcement.MANAGED, file_system_from_dict(fs), _network_from(value.get("network"))
        )
    raise PolicyError(
        f"unknown permission profile type {tag!r}; accepted: managed, disabled, external"
    )


def decode_profile(text: str | bytes) -> PermissionProfile:
    import json  # only when decoding: off the start-up path of ``llmx sandbox``

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(
            f"permission profile is not valid JSON: {exc.msg} at char {exc.pos}"
        ) from None
    if not isinstance(data, dict):
        raise PolicyError('permission profile must be a JSON object with a "type" field')
    return profile_from_dict(data)


# --- encoding -------------------------------------------------------------------------


def _special_to_dict(special: SpecialPath) -> dict[str, object]:
    if special.kind is SpecialKind.UNKNOWN:
        out: dict[str, object] = {"kind": "unknown", "path": special.token or ""}
    else:
        out = {"kind": special.kind.value}
    if special.subpath is not None:
        out["subpath"] = special.subpath
    return out


def entry_to_dict(entry: FsEntry) -> dict[str, object]:
    path: dict[str, object]
    if isinstance(entry.path, Path):
        path = {"type": "path", "path": str(entry.path)}
    elif isinstance(entry.path, GlobPattern):
        path = {"type": "glob_pattern", "pattern": entry.path.pattern}
    else:
        path = {"type": "special", "value": _special_to_dict(entry.path)}
    out: dict[str, object] = {"path": path, "access": entry.access.value}
    if entry.skip_if_missing:
        out["missing_path_behavior"] = "skip"
    return out


def profile_to_dict(profile: PermissionProfile) -> dict[str, object]:
    """The ``permission_profile`` object as Codex writes it."""
    if profile.enforcement is Enforcement.DISABLED:
        return {"type": "disabled"}
    if profile.enforcement is Enforcement.EXTERNAL:
        return {"type": "external", "network": profile.network.value}
    fs: dict[str, object] = {"type": profile.file_system.kind.value}
    if profile.file_system.kind is FsKind.RESTRICTED:
        fs["entries"] = [entry_to_dict(e) for e in profile.file_system.entries]
        if profile.file_system.glob_scan_max_depth is not None:
            fs["glob_scan_max_depth"] = profile.file_system.glob_scan_max_depth
    return {"type": "managed", "file_system": fs, "network": profile.network.value}


def encode_profile(profile: PermissionProfile) -> str:
    import json  # only when encoding: off the start-up path of ``llmx sandbox``

    return json.dumps(profile_to_dict(profile), separators=(",", ":"))
