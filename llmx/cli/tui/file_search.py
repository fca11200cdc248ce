"""The ``@`` file mention: the workspace's files, ranked by a fuzzy match of what was typed.

The list of files comes from git where the workspace is a repository (tracked files and
untracked ones not ignored: what a person means by "the project's files", and one fast
call in a large repository); elsewhere from a walk that skips hidden folders and stops at
``MAX_FILES``. Matching is a subsequence match scored like fzf's: consecutive letters, a
match at the start of a path component and a match in the file name count most.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

MAX_FILES = 200_000
GIT_TIMEOUT_S = 10.0


def workspace_files(root: Path) -> list[str]:
    """Paths of the files under ``root``, relative to it."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root, capture_output=True, timeout=GIT_TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        listed = None
    if listed is not None and listed.returncode == 0:
        names = listed.stdout.decode("utf-8", "replace").split("\0")
        return sorted({name for name in names if name})[:MAX_FILES]
    return _walk(root)


def _walk(root: Path) -> list[str]:
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        base = os.path.relpath(folder, root)
        for name in sorted(files):
            found.append(name if base == "." else f"{base}/{name}")
            if len(found) >= MAX_FILES:
                return found
    return found


def fuzzy_score(query: str, path: str) -> int | None:
    """How well ``path`` matches ``query`` (higher is better); None when it does not."""
    if not query:
        return 0
    lowered = path.lower()
    wanted = query.lower()
    name_start = lowered.rfind("/") + 1
    score = 0
    position = -1
    run = 0
    for char in wanted:
        found = lowered.find(char, position + 1)
        if found < 0:
            return None
        if found == position + 1:
            run += 1
            score += 4 * run
        else:
            run = 0
            score -= min(found - position - 1, 8)
        if found == 0 or lowered[found - 1] in "/_-. ":
            score += 6
        if found >= name_start:
            score += 3
        position = found
    # Shorter paths first among equals.
    return score * 1000 - len(path)


def rank(query: str, paths: list[str], limit: int = 8) -> list[str]:
    """The best ``limit`` matches, best first."""
    scored = []
    for path in paths:
        score = fuzzy_score(query, path)
        if score is not None:
            scored.append((score, path))
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return [path for _, path in scored[:limit]]


def mention_at(text: str, cursor: int) -> tuple[int, str] | None:
    """The ``@word`` the cursor is in: (offset of the ``@``, the word typed after it)."""
    start = text.rfind("@", 0, cursor)
    if start < 0:
        return None
    word = text[start + 1 : cursor]
    if any(char.isspace() for char in word):
        return None
    if start > 0 and not text[start - 1].isspace():
        return None
    return start, word
