"""Protected metadata under writable roots: ``.git``, ``.agents`` and ``.codex`` stay read-only.

A command that may write the workspace must still not plant git hooks or config, skills,
or agent config: any of those would run with more authority on the next occasion (the
next commit, the next session). So each writable root carries read-only carve-outs.

Which carve-outs, exactly (Codex 0.169's rules):
- ``.git``, ``.agents`` and ``.codex`` under every writable root, whether they exist or
  not. A missing one is kept from being created (the backends mask it with an empty
  read-only directory for as long as the command runs, ``mask_targets``): created, it
  would be git's config and hooks, skills or agent config that run on the host later. So
  ``git init`` in a fresh workspace needs an approval, as in Codex; git's discovery of a
  repository above the root still works, since an empty ``.git`` directory is not a
  repository and git looks further up.
- A ``.git`` *file* (``gitdir: <path>``, a linked worktree or a submodule) also protects
  the directory it points to; while that does not exist it is kept from being created
  when a writable root holds it (the plan decides).

The homes of llmx and Codex are protected the same way wherever a writable root holds them
(the cwd at ``$HOME``, ``--add-dir ~``): their ``config.toml`` decides the sandbox of the
next run (``agent_homes``).

A carve-out reached through a symbolic link that a command may replace cannot be kept: a
mount, or a check, made at start-up protects what the link pointed to then, while git on
the host follows whatever it points to later. Such a layout is refused
(``first_writable_symlink``), as Codex refuses it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

GIT = ".git"
AGENTS = ".agents"
CODEX = ".codex"
PROTECTED_METADATA_NAMES: tuple[str, ...] = (GIT, AGENTS, CODEX)

_GITDIR_PREFIX = "gitdir:"


def gitdir_target(git_file: Path) -> Path | None:
    """The directory a ``.git`` *file* points to, or ``None`` if it is not a valid pointer.

    The target may be relative; it is relative to the directory holding the ``.git`` file.
    It is returned whether or not it exists: git would use whatever appears there.
    """
    try:
        text = git_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    first = text.splitlines()[0].strip() if text.strip() else ""
    if not first.startswith(_GITDIR_PREFIX):
        return None
    raw = first[len(_GITDIR_PREFIX) :].strip()
    if not raw:
        return None
    target = Path(raw)
    if not target.is_absolute():
        target = git_file.parent / target
    return Path(os.path.normpath(target))


LLMX_HOME_LABEL = "llmx home"
CODEX_HOME_LABEL = "Codex home"


def agent_homes(env: Mapping[str, str], user_home: Path) -> dict[Path, str]:
    """The homes whose config a command must not rewrite, each with what it is.

    ``$LLMX_HOME`` (else ``~/.llmx``), and ``$CODEX_HOME`` when set (llmx reads a Codex
    home when pointed at one, and Codex itself would run from the rewritten config). Each
    as named and, when that differs, as resolved: the link and what it points to both
    matter.
    """
    named: dict[Path, str] = {}
    for variable, default, label in (
        ("LLMX_HOME", user_home / ".llmx", LLMX_HOME_LABEL),
        ("CODEX_HOME", None, CODEX_HOME_LABEL),
    ):
        raw = env.get(variable)
        path = Path(raw).expanduser() if raw else default
        if path is None or not path.is_absolute():
            continue
        for form in (Path(os.path.normpath(path)), Path(os.path.realpath(path))):
            named.setdefault(form, label)
    return named


def protected_subpaths(root: Path) -> tuple[Path, ...]:
    """The read-only carve-outs of writable ``root``, in a stable order (missing ones
    included: they must not be created)."""
    git = root / GIT
    found: list[Path] = [git]
    if git.is_file():
        target = gitdir_target(git)
        if target is not None:
            found.append(target)
    found += [root / AGENTS, root / CODEX]
    return tuple(found)


def _is_within(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


def symlink_components(path: Path) -> Iterator[Path]:
    """The components of ``path`` that are symbolic links, outermost first."""
    return (c for c in (*reversed(path.parents), path) if c.is_symlink())


def first_writable_symlink(path: Path, writable_roots: Iterable[Path]) -> Path | None:
    """The first component of ``path`` that is a symbolic link a confined command could
    replace (its directory lies in a writable root), else ``None``."""
    roots = {p for root in writable_roots for p in (root, Path(os.path.realpath(root)))}
    for candidate in symlink_components(path):
        home = Path(os.path.realpath(candidate.parent)) / candidate.name
        if any(_is_within(c, root) and c != root for c in (candidate, home) for root in roots):
            return candidate
    return None


def forbidden_metadata_write(path: Path, writable_roots: Iterable[Path]) -> str | None:
    """The protected name that a direct write to ``path`` would touch, else ``None``.

    For writers that do not go through the kernel sandbox (apply_patch): a write under any
    writable root's ``.git``, ``.agents`` or ``.codex`` is refused even if the directory does
    not exist yet. ``path`` must be absolute and normalised.
    """
    for root in writable_roots:
        if not _is_within(path, root) or path == root:
            continue
        first = path.relative_to(root).parts[0]
        if first in PROTECTED_METADATA_NAMES:
            return first
    return None
