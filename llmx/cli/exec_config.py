"""Loading ``config.toml`` for ``exec``: the file, ``--profile``, ``-c key=value``, flags.

Every problem is one line naming the key or file and what to do (exit status 1).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from llmx.events.home import config_path


class ConfigLoadError(Exception):
    """A config problem; the message is the one line to print."""


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b=value`` with a TOML value (a bare word that is not TOML is taken as a string)."""
    if "=" not in text:
        raise ConfigLoadError(f"-c {text!r}: expected KEY=VALUE, for example -c model=\"o3\"")
    key, _, raw = text.partition("=")
    path = [part.strip() for part in key.strip().split(".")]
    if not all(path):
        raise ConfigLoadError(f"-c {text!r}: the key is empty or has an empty part")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return path, value


def _set(table: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        nested = table.setdefault(part, {})
        if not isinstance(nested, dict):
            raise ConfigLoadError(f"-c {'.'.join(path)}: {part!r} is not a table")
        table = nested
    table[path[-1]] = value


def load_raw_config(home: Path, overrides: list[str]) -> dict[str, Any]:
    path = config_path(home)
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigLoadError(f"cannot read {path}: {exc}; fix or move the file") from None
    for text in overrides:
        key, value = parse_override(text)
        _set(raw, key, value)
    return raw


def apply_profile(raw: dict[str, Any], profile: str | None) -> dict[str, Any]:
    """The profile's keys laid over the top level (``--profile`` or ``profile = ...``)."""
    name = profile or raw.get("profile")
    if name is None:
        return raw
    profiles = raw.get("profiles", {})
    if not isinstance(profiles, dict) or name not in profiles:
        raise ConfigLoadError(
            f"config profile {name!r} is not defined; add [profiles.{name}] to config.toml"
        )
    merged = dict(raw)
    merged.update(profiles[name])
    merged["profile"] = name
    return merged
