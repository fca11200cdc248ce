"""The ``@`` file mention: the workspace's files, ranked by a fuzzy match of what was typed.

The list of files comes from git where the workspace is a repository (tracked files and
untracked ones not ignored: what a person means by "the project's files", and one fast
call in a large repository); elsewhere from a walk that skips hidden folders and stops at
``MAX_FILES``. Matching is a subsequence match scored like fzf's: consecutive letters, a
match at the start of a path component and a match in the file name count most.

``FileIndex`` is what the session uses: the list is read once, in a thread of its own
started with the session in a git repository (elsewhere at the first ``@``: a walk of a
large folder is not paid for unless asked), so that listing never holds up a keystroke; each
query is first filtered by one regular expression over the candidates joined in one
string, shortest path first (the subsequence test, run by the regex engine rather than
per path in Python), and a query that extends the previous one only searches the
previous one's matches. Only the filtered paths are scored; when more than
``SCORED_MAX`` match (a query of one or two letters in a large repository), the search
stops there and scores those, the shortest that match.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Callable
from itertools import islice
from pathlib import Path

MAX_FILES = 200_000
GIT_TIMEOUT_S = 10.0
SCORED_MAX = 2_000


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


def in_git_repository(root: Path) -> bool:
    """Whether ``root`` is in a git work tree (a ``.git`` in it or a folder above)."""
    return any((folder / ".git").exists() for folder in (root, *root.parents))


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


def _subsequence(query: str) -> re.Pattern[str]:
    """From a line's first letter of ``query`` to the line's end, the other letters in
    order, case ignored; each gap is the run of characters up to the letter's next
    occurrence, taken possessively (no backtracking: the first occurrence is the one a
    subsequence test needs). Starting with a letter lets the engine skip to it."""
    parts = []
    for number, char in enumerate(query):
        klass = "".join(re.escape(c) for c in sorted({char.lower(), char.upper()}))
        parts.append(f"[{klass}]" if number == 0 else f"[^\\n{klass}]*+[{klass}]")
    parts.append("[^\\n]*")
    return re.compile("".join(parts))


class FileIndex:
    """The workspace's files, listed once in the background, searched per keystroke."""

    def __init__(self, root: Path, *, scored_max: int = SCORED_MAX) -> None:
        self.root = root
        self.scored_max = scored_max
        self._paths: list[str] | None = None
        self._loaded = threading.Event()
        self._started = False
        self._on_ready: Callable[[], None] | None = None
        # The last query and the blob of its matches (for a query that extends it).
        self._last: tuple[str, str] | None = None
        self._all = ""

    def start(self, on_ready: Callable[[], None] | None = None) -> None:
        """List the files in a thread; ``on_ready`` is called from it when they are."""
        if self._started:
            return
        self._started = True
        self._on_ready = on_ready
        threading.Thread(target=self._load, name="llmx-file-index", daemon=True).start()

    def _load(self) -> None:
        paths = [p for p in workspace_files(self.root) if "\n" not in p]
        self._all = "\n".join(sorted(paths, key=lambda p: (len(p), p)))
        self._paths = paths
        self._loaded.set()
        if self._on_ready is not None:
            self._on_ready()

    @property
    def ready(self) -> bool:
        return self._loaded.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._loaded.wait(timeout)

    def search(self, query: str, limit: int = 8) -> list[str] | None:
        """The best ``limit`` paths for ``query``, best first; None while still listing."""
        if not self._loaded.is_set():
            return None
        if not query:
            return sorted(self._paths or [])[:limit]
        last = self._last
        pool = last[1] if last is not None and query.startswith(last[0]) else self._all
        matches = islice(_subsequence(query).finditer(pool), self.scored_max + 1)
        found = [pool[pool.rfind("\n", 0, match.start()) + 1 : match.end()]
                 for match in matches]
        if len(found) > self.scored_max:
            # Cut short: the next query searches every path again.
            del found[self.scored_max:]
            self._last = None
        else:
            self._last = (query, "\n".join(found))
        return rank(query, found, limit)
