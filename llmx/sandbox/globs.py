"""Deny globs: one translation to a regular expression, used by both enforcement paths.

Seatbelt matches the regex directly; on Linux the glob is expanded to concrete paths before
the command starts (a mount cannot match a pattern). Sharing the translation keeps the two
platforms agreeing on what a pattern means: ``*`` and ``?`` stay within one path component,
``**/`` spans zero or more components, ``[...]`` is a character class (``[!x]`` negates), and
a pattern with no glob character means the path and everything beneath it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

GLOB_CHARS = frozenset("*?[]")
# Codex refuses to build a sandbox whose deny globs expand to more paths than this.
MAX_GLOB_MATCHES = 8192


class GlobError(ValueError):
    pass


def glob_to_regex(pattern: str) -> str:
    """An anchored regex (``^...$``) for ``pattern``."""
    out = ["^"]
    saw_glob = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            saw_glob = True
            if pattern.startswith("**/", i):
                out.append("(.*/)?")
                i += 3
                continue
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif ch == "?":
            saw_glob = True
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                saw_glob = True
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                elif body.startswith("^"):
                    body = "\\^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end + 1
                continue
        elif ch == "]":
            saw_glob = True
            out.append("\\]")
        else:
            out.append(re.escape(ch))
        i += 1
    if not saw_glob:
        out.append("(/.*)?")
    out.append("$")
    return "".join(out)


def static_prefix(pattern: str) -> str:
    """The directory part of ``pattern`` before its first glob character ('' if none)."""
    first = next((i for i, ch in enumerate(pattern) if ch in GLOB_CHARS), None)
    if first is None:
        return pattern
    head = pattern[:first]
    cut = head.rfind("/")
    return head[:cut] if cut > 0 else ""


def expand_glob(pattern: str, *, max_depth: int | None = None) -> list[Path]:
    """Existing paths under the static prefix of ``pattern`` that match it.

    A pattern whose static prefix is empty or ``/`` is not expanded (it would scan the whole
    disk): callers report it. Directories that match are not descended into: masking the
    directory covers its contents.
    """
    prefix = static_prefix(pattern)
    if prefix in ("", "/") or not os.path.isdir(prefix):
        return []
    regex = re.compile(glob_to_regex(pattern))
    base_depth = prefix.rstrip("/").count("/")
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(prefix):
        depth = dirpath.rstrip("/").count("/") - base_depth
        keep_dirs = []
        for name in dirnames:
            full = f"{dirpath}/{name}"
            if regex.match(full):
                found.append(Path(full))
            elif max_depth is None or depth + 1 < max_depth:
                keep_dirs.append(name)
        dirnames[:] = keep_dirs
        found.extend(
            Path(f"{dirpath}/{name}") for name in filenames if regex.match(f"{dirpath}/{name}")
        )
        if len(found) > MAX_GLOB_MATCHES:
            raise GlobError(
                f"deny glob {pattern!r} matches more than {MAX_GLOB_MATCHES} paths; "
                "narrow it or set glob_scan_max_depth"
            )
    return sorted(found)
