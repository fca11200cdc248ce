"""What a ``deny`` entry does not cover, for ``llmx sandbox explain``.

A deny entry hides a *path*: the backends mask it (Linux) or refuse it by name (Seatbelt).
The same bytes reached another way stay readable: a file git tracks is also in the
repository's object store (``git show HEAD:secret.env`` reads it back), and a hard link to
the file elsewhere is the same file under a name no entry lists. Hiding the object store
would break git for every command, so llmx says so instead: each denied path git has seen
(in the index or in any commit) is named with the repository that holds a copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

# What every deny entry leaves readable, said once when the plan denies anything.
NOT_COVERED = (
    "deny entries hide these paths only: a copy of the content elsewhere stays readable "
    "(git's object store when git tracks the file, a hard link to it under another name, "
    "a backup), and on Linux a file created after the command starts that matches a deny "
    "glob is not hidden"
)
# A broken or slow git must not hang ``explain``.
_GIT_SECONDS = 10


def _work_tree(path: Path) -> Path | None:
    """The folder holding the nearest ``.git`` above ``path`` (its work tree), if any."""
    for folder in path.parents:
        if os.path.lexists(folder / ".git"):
            return folder
    return None


def _git(tree: Path, args: list[str]) -> list[str] | None:
    """``git -C tree ARGS`` names, NUL-separated; None when git cannot say."""
    git = shutil.which("git")
    if git is None:
        return None
    # No hook, fsmonitor or pager of the repository runs for this read-only question.
    command = [git, "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null",
               "--no-pager", "-C", str(tree), *args]
    try:
        done = subprocess.run(command, capture_output=True, timeout=_GIT_SECONDS,
                              check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return [name for name in os.fsdecode(done.stdout).split("\0") if name]


def git_copies(denied: Sequence[Path]) -> dict[Path, str]:
    """For each denied path whose content git holds (tracked now, or in any commit of any
    branch), a note naming the repository and the command that reads it back."""
    by_tree: dict[Path, list[Path]] = {}
    for path in denied:
        tree = _work_tree(path)
        if tree is not None:
            by_tree.setdefault(tree, []).append(path)
    notes: dict[Path, str] = {}
    for tree, paths in by_tree.items():
        relative = [str(p.relative_to(tree)) for p in paths]
        index = _git(tree, ["ls-files", "-z", "--cached", "--", *relative])
        history = _git(tree, ["log", "--all", "--format=", "--name-only", "-z", "--",
                              *relative])
        seen = set(index or ()) | set(history or ())
        for path, rel in zip(paths, relative, strict=True):
            how = f"git show HEAD:{rel}, git log -p -- {rel}"
            if index is None or history is None:
                notes[path] = (f"in the git work tree {tree}: whether git holds a copy "
                               f"could not be checked ({how} would read one); not covered")
            # A denied folder: git holds its content if it holds anything under it.
            elif rel in seen or any(name.startswith(rel + "/") for name in seen):
                notes[path] = (f"git holds its content in {tree / '.git'}, readable there "
                               f"({how}); not covered")
    return notes
