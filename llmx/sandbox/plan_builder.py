"""From a permission profile to a ``ConfinementPlan``: symbolic roots and globs made concrete.

Resolution of an access query for a path P (Codex's rule, kept exactly):
1. entries that do not resolve are dropped (``:tmpdir`` without ``$TMPDIR``, ``:slash_tmp``
   when ``/tmp`` is not a directory, unknown tokens);
2. of the entries whose path is P or an ancestor of P, the most specific wins (most path
   components);
3. ties at equal depth: deny > write > read;
4. nothing matches: deny.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from llmx.sandbox.globs import GLOB_CHARS, expand_glob
from llmx.sandbox.plan import ConfinementPlan, NetworkAccess, WritableRoot
from llmx.sandbox.policy import PolicyError
from llmx.sandbox.profiles import (
    Enforcement,
    FileSystemPolicy,
    FsAccess,
    FsEntry,
    FsKind,
    GlobPattern,
    PermissionProfile,
    SpecialKind,
    SpecialPath,
)
from llmx.sandbox.protected import (
    PROTECTED_METADATA_NAMES,
    first_writable_symlink,
    protected_subpaths,
)
from llmx.sandbox.value import Value

PROTECTED_METADATA_NAMES_SET = frozenset(PROTECTED_METADATA_NAMES)
# Readable under ``:minimal`` on Linux.
LINUX_PLATFORM_READ_ROOTS: tuple[str, ...] = (
    "/bin",
    "/sbin",
    "/usr",
    "/etc",
    "/lib",
    "/lib64",
    "/nix/store",
    "/run/current-system/sw",
)


class ResolvedEntry(Value):
    __slots__ = ("access", "path", "skip_if_missing")

    def __init__(self, path: Path, access: FsAccess, skip_if_missing: bool = False) -> None:
        self.path = path
        self.access = access
        self.skip_if_missing = skip_if_missing


class ResolvedFileSystem(Value):
    """A restricted file-system policy with every path concrete and absolute."""

    __slots__ = ("deny_globs", "entries", "platform_defaults", "warnings")

    def __init__(
        self,
        entries: tuple[ResolvedEntry, ...],
        deny_globs: tuple[str, ...] = (),
        platform_defaults: bool = False,
        warnings: tuple[str, ...] = (),
    ) -> None:
        self.entries = entries
        self.deny_globs = deny_globs
        self.platform_defaults = platform_defaults
        self.warnings = warnings

    def _compared(self) -> tuple[object, ...]:
        # warnings left out of == and hash
        return (self.entries, self.deny_globs, self.platform_defaults)

    def access(self, path: Path) -> FsAccess:
        best: ResolvedEntry | None = None
        for entry in self.entries:
            if entry.path != path and entry.path not in path.parents:
                continue
            if best is None:
                best = entry
                continue
            key = (len(entry.path.parts), entry.access.rank)
            if key > (len(best.path.parts), best.access.rank):
                best = entry
        return best.access if best is not None else FsAccess.DENY

    def winning_entry(self, path: Path) -> ResolvedEntry | None:
        candidates = [e for e in self.entries if e.path == path or e.path in path.parents]
        if not candidates:
            return None
        return max(candidates, key=lambda e: (len(e.path.parts), e.access.rank))


def normalize(path: Path) -> Path:
    """Lexical normalisation (``..`` and ``.`` removed); symlinks are left to the backend."""
    return Path(os.path.normpath(path))


def _has_glob(text: str) -> bool:
    return any(ch in GLOB_CHARS for ch in text)


def materialize(
    fs: FileSystemPolicy, cwd: Path, workspace_roots: Sequence[Path]
) -> FileSystemPolicy:
    """Replace ``:workspace_roots``/``:cwd`` tokens by concrete paths, one entry per root.

    This is the form Codex writes into ``turn_context``: the workspace written out, while
    ``:root``, ``:tmpdir`` and ``:slash_tmp`` stay symbolic.
    """
    out: list[FsEntry] = []
    for entry in fs.entries:
        special = entry.path
        if not isinstance(special, SpecialPath) or special.kind not in (
            SpecialKind.PROJECT_ROOTS,
            SpecialKind.CURRENT_WORKING_DIRECTORY,
        ):
            out.append(entry)
            continue
        bases = (
            [cwd]
            if special.kind is SpecialKind.CURRENT_WORKING_DIRECTORY
            else list(workspace_roots)
        )
        for base in bases:
            if special.subpath is None:
                out.append(FsEntry(base, entry.access, entry.skip_if_missing))
            elif _has_glob(special.subpath):
                out.append(FsEntry(GlobPattern(f"{base}/{special.subpath}"), entry.access))
            else:
                out.append(
                    FsEntry(normalize(base / special.subpath), entry.access, entry.skip_if_missing)
                )
    return FileSystemPolicy(fs.kind, tuple(out), fs.glob_scan_max_depth)


def resolve_file_system(
    fs: FileSystemPolicy,
    *,
    cwd: Path,
    workspace_roots: Sequence[Path],
    env: Mapping[str, str],
) -> ResolvedFileSystem:
    concrete = materialize(fs, cwd, workspace_roots)
    entries: list[ResolvedEntry] = []
    globs: list[str] = []
    warnings: list[str] = []
    platform_defaults = False
    for entry in concrete.entries:
        target = entry.path
        if isinstance(target, GlobPattern):
            globs.append(target.pattern)
            continue
        if isinstance(target, Path):
            entries.append(ResolvedEntry(normalize(target), entry.access, entry.skip_if_missing))
            continue
        kind = target.kind
        if kind is SpecialKind.ROOT:
            entries.append(ResolvedEntry(Path(cwd.anchor or "/"), entry.access))
        elif kind is SpecialKind.MINIMAL:
            platform_defaults = platform_defaults or entry.access is not FsAccess.DENY
        elif kind is SpecialKind.TMPDIR:
            tmpdir = env.get("TMPDIR", "")
            if tmpdir and os.path.isabs(tmpdir):
                entries.append(ResolvedEntry(normalize(Path(tmpdir)), entry.access))
        elif kind is SpecialKind.SLASH_TMP:
            if os.path.isdir("/tmp"):
                entries.append(ResolvedEntry(Path("/tmp"), entry.access))
        else:
            warnings.append(f"unknown special path {target.token!r} ignored")
    return ResolvedFileSystem(tuple(entries), tuple(globs), platform_defaults, tuple(warnings))


def _dedup(paths: Sequence[Path]) -> tuple[Path, ...]:
    seen: dict[Path, None] = {}
    for path in paths:
        seen.setdefault(path, None)
    return tuple(seen)


def _deepest_root(path: Path, roots: Sequence[Path]) -> Path | None:
    holders = [root for root in roots if root == path or root in path.parents]
    return max(holders, key=lambda root: len(root.parts)) if holders else None


def _writable_roots(
    resolved: ResolvedFileSystem, homes: Sequence[Path]
) -> tuple[WritableRoot, ...]:
    # A mount target must exist; a writable root that does not is dropped, as Codex does.
    roots = [
        root
        for root in _dedup(
            [
                e.path
                for e in resolved.entries
                if e.access is FsAccess.WRITE and resolved.access(e.path) is FsAccess.WRITE
            ]
        )
        if root.is_dir()
    ]
    carve_outs: dict[Path, list[Path]] = {root: [] for root in roots}

    def protect(sub: Path, origin: Path | None) -> None:
        winner = resolved.winning_entry(sub)
        # Only an explicit ``write`` entry for the protected path itself lifts the
        # protection (another writable root holding a gitdir target does not).
        if winner is not None and winner.access is FsAccess.WRITE and winner.path == sub:
            return
        # Listed under the root that holds it (a gitdir target may lie in another), so
        # each root's carve-outs are complete; one no root holds is kept only if it
        # exists, since nothing confined could create it.
        holder = _deepest_root(sub, roots)
        if holder is not None:
            carve_outs[holder].append(sub)
        elif origin is not None and os.path.lexists(sub):
            carve_outs[origin].append(sub)

    for home in homes:
        protect(home, None)
    for root in roots:
        # A root inside a protected folder (an explicit ``".git" = "write"``) was granted
        # with its contents: no carve-outs of its own.
        if not PROTECTED_METADATA_NAMES_SET.intersection(root.parts):
            for sub in protected_subpaths(root):
                protect(sub, root)
        for entry in resolved.entries:
            if entry.access is not FsAccess.READ or root not in entry.path.parents:
                continue
            if resolved.access(entry.path) is FsAccess.WRITE:
                continue
            if entry.skip_if_missing and not entry.path.exists():
                continue
            carve_outs[root].append(entry.path)
    return tuple(WritableRoot(root, _dedup(carve_outs[root])) for root in roots)


def _refuse_carve_outs_behind_writable_links(
    writable: Sequence[WritableRoot], denied: Sequence[Path]
) -> None:
    roots = [root.path for root in writable]
    checks = [(sub, "read-only") for root in writable for sub in root.read_only_subpaths]
    checks.extend((path, "deny-read") for path in denied)
    for path, protection in checks:
        link = first_writable_symlink(path, roots)
        if link is not None:
            raise PolicyError(
                f"cannot enforce sandbox {protection} path {path} because it crosses writable "
                f"symlink {link}",
                "replace the symlink with the directory it points to, or run without that "
                "writable root",
            )


def build_plan(
    profile: PermissionProfile,
    *,
    cwd: Path,
    workspace_roots: Sequence[Path] = (),
    env: Mapping[str, str],
    child_env: Mapping[str, str] | None = None,
    protected_homes: Sequence[Path] = (),
) -> tuple[ConfinementPlan, ResolvedFileSystem | None]:
    """The plan for ``profile``; also the resolved file system (``None`` when unconfined).

    ``protected_homes`` (``protected.agent_homes``) stay read-only in whichever writable
    root holds them, even while missing.
    """
    network = profile.network
    child = dict(child_env) if child_env is not None else {}
    if (
        profile.enforcement is not Enforcement.MANAGED
        or profile.file_system.kind is not FsKind.RESTRICTED
    ):
        if profile.enforcement is Enforcement.DISABLED:
            network = NetworkAccess.ENABLED
        return ConfinementPlan(unconfined=True, network=network, env=child), None
    roots = list(workspace_roots) or [cwd]
    resolved = resolve_file_system(profile.file_system, cwd=cwd, workspace_roots=roots, env=env)
    root = Path(cwd.anchor or "/")
    full_read = resolved.access(root) is not FsAccess.DENY
    readable: tuple[Path, ...] | None = None
    writable = _writable_roots(resolved, protected_homes)
    if not full_read:
        candidates = [e.path for e in resolved.entries if e.access is not FsAccess.DENY]
        candidates.extend(w.path for w in writable)
        readable_list = [
            p for p in _dedup(candidates) if p.exists() and resolved.access(p) is not FsAccess.DENY
        ]
        if resolved.platform_defaults:
            # No entry names them, so they are readable unless a deny entry covers them.
            for raw in LINUX_PLATFORM_READ_ROOTS:
                path = Path(raw)
                winner = resolved.winning_entry(path)
                denied_here = winner is not None and winner.access is FsAccess.DENY
                if path.exists() and not denied_here and path not in readable_list:
                    readable_list.append(path)
        readable = tuple(readable_list)
    denied: list[Path] = [
        e.path for e in resolved.entries if e.access is FsAccess.DENY and e.path.exists()
    ]
    for pattern in resolved.deny_globs:
        denied.extend(expand_glob(pattern, max_depth=profile.file_system.glob_scan_max_depth))
    denied_paths = _dedup(denied)
    _refuse_carve_outs_behind_writable_links(writable, denied_paths)
    plan = ConfinementPlan(
        unconfined=False,
        readable_roots=readable,
        writable_roots=writable,
        denied_paths=denied_paths,
        network=network,
        env=child,
    )
    return plan, resolved
