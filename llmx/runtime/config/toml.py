"""TOML helpers for configuration: ``-c key=value`` overrides and key line numbers.

tomllib gives values but no positions; to point an error at the line of a key we scan the
text lightly (table headers and ``key =`` lines). It can be fooled by a key-like line inside
a multi-line array, in which case an error names a nearby line: acceptable for a hint.
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from llmx.runtime.config.types import ConfigError as ConfigError  # re-exported

KeyPath = tuple[str, ...]

_BARE_OR_QUOTED = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_KEY = re.compile(rf"^\s*({_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*)\s*=")
_SEGMENT = re.compile(_BARE_OR_QUOTED)


def split_key(dotted: str) -> KeyPath:
    """``a."b.c".d`` -> ``("a", "b.c", "d")``."""
    parts: list[str] = []
    for match in _SEGMENT.finditer(dotted):
        segment = match.group(0)
        if segment[0] in "\"'":
            segment = segment[1:-1]
        parts.append(segment)
    return tuple(parts)


def dotted(path: Sequence[str]) -> str:
    return ".".join(p if re.fullmatch(r"[A-Za-z0-9_-]+", p) else f'"{p}"' for p in path)


def key_lines(text: str) -> dict[KeyPath, int]:
    """The 1-based line of every table header and key in ``text`` (first occurrence wins)."""
    lines: dict[KeyPath, int] = {}
    table: KeyPath = ()
    in_multiline = False
    for number, line in enumerate(text.splitlines(), start=1):
        quotes = line.count('"""') + line.count("'''")
        if in_multiline:
            in_multiline = quotes % 2 == 0
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            inner = stripped.lstrip("[").split("]", 1)[0]
            table = split_key(inner)
            lines.setdefault(table, number)
            continue
        found = _KEY.match(stripped)
        if found is not None:
            lines.setdefault(table + split_key(found.group(1)), number)
        if quotes % 2 == 1:
            in_multiline = True
    return lines


def line_of(lines: Mapping[KeyPath, int], path: Sequence[str]) -> int | None:
    """The line of ``path`` or of its closest enclosing key."""
    for end in range(len(path), 0, -1):
        found = lines.get(tuple(path[:end]))
        if found is not None:
            return found
    return None


class Override(msgspec.Struct, frozen=True):
    """One ``-c key=value``; ``text`` is what the user typed."""

    path: KeyPath
    value: Any
    text: str


def parse_override(text: str) -> Override:
    """Parse ``key.path=value``; a value that is not valid TOML is taken as a string (Codex)."""
    key, sep, raw = text.partition("=")
    path = split_key(key.strip())
    if not sep or not path:
        raise ConfigError(
            f"-c {text!r}: expected key=value — write it like -c model=\"gpt-5.5\" "
            f"or -c model_providers.local.base_url=\"http://127.0.0.1:8000/v1\""
        )
    raw = raw.strip()
    try:
        value = tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        value = raw
    return Override(path, value, text)


def set_path(document: dict[str, Any], path: KeyPath, value: Any) -> None:
    node = document
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[path[-1]] = copy.deepcopy(value)


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``; tables merge key by key, everything else is replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
