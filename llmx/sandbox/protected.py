"""Protected metadata under writable roots: ``.git``, ``.agents`` and ``.codex`` stay read-only.

A command that may write the workspace must still not plant git hooks or config, skills,
or agent config: any of those would run with more authority on the next occasion (the
next commit, the next session). So each writable root carries read-only carve-outs.

Which carve-outs, exactly (Codex's rules):
- ``.git`` when it exists, as a directory or as a file. A ``gitdir: <path>`` file (a linked
  worktree or a submodule) also protects the directory it points to; while that does not
  exist it is kept from being created when a writable root holds it (the plan decides).
- ``.agents`` when it is a directory.
- ``.codex`` when it is a directory; under the session's cwd it is protected even while
  missing, so creating it for the first time needs an approval.
A missing ``.git`` or ``.agents`` is deliberately not listed: a listed path would be masked,
and ``git init`` in a fresh workspace must keep working.

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


def protected_subpaths(root: Path, *, is_cwd: bool) -> tuple[Path, ...]:
    """The read-only carve-outs of writable ``root``, in a stable order."""
    found: list[Path] = []
    git = root / GIT
    if git.is_dir():
        found.append(git)
    elif git.is_file():
        found.append(git)
        target = gitdir_target(git)
        if target is not None:
            found.append(target)
    agents = root / AGENTS
    if agents.is_dir():
        found.append(agents)
    codex = root / CODEX
    if codex.is_dir() or (is_cwd and not codex.exists()):
        found.append(codex)
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
