"""Loading the effective configuration.

Precedence, highest first: command-line flags, ``-c key=value`` overrides, the selected
profile (``--profile`` or ``profile = "..."``), ``config.toml``, built-in defaults.

The merged document is validated by ``msgspec.convert`` into the tables of
:mod:`llmx.runtime.config.tables`. A known key with a bad value is a :class:`ConfigError` naming
the key path, where it was set (``config.toml`` and line, or the ``-c`` argument, or the
flag) and what is accepted. Unknown keys are ignored as Codex ignores them, and listed in
``LoadedConfig.warnings``.
"""

from __future__ import annotations

import enum
import json
import os
import re
import tomllib
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from llmx.events.home import config_path, llmx_home

# Re-exported: the loaded result is a plain type (see config.types).
from llmx.runtime.config.loaded import LoadedConfig
from llmx.runtime.config.providers import built_in_providers, merge_providers
from llmx.runtime.config.tables import Config
from llmx.runtime.config.toml import (
    ConfigError,
    KeyPath,
    Override,
    deep_merge,
    dotted,
    key_lines,
    line_of,
    parse_override,
    set_path,
)
from llmx.runtime.config.types import base_url_problem

__all__ = ["CODEX_PASSTHROUGH_KEYS", "LoadedConfig", "load_config"]

# Codex keys we accept silently although llmx does not use them (yet).
CODEX_PASSTHROUGH_KEYS = frozenset(
    {
        "tools", "features", "tui", "notice", "file_opener", "review_model",
        "chatgpt_base_url", "preferred_auth_method", "forced_login_method",
        "windows_wsl_setup_acknowledged", "disable_response_storage",
        "model_supports_reasoning_summaries", "model_reasoning_summary_format",
        "model_max_output_tokens", "experimental_instructions_file", "experimental_use_rmcp_client",
        "approvals_reviewer", "skills",
        "analytics", "feedback", "mcp_oauth_credentials_store", "check_for_update_on_startup",
    }
)


@dataclass(frozen=True)
class _Sources:
    """Where each part of the effective document came from, to name it in errors."""

    path: Path
    lines: dict[KeyPath, int]
    overrides: tuple[Override, ...]
    profile: str | None
    profile_values: Mapping[str, Any]
    flags: Mapping[str, Any]

    def where(self, path: Sequence[str]) -> str:
        if path and path[0] in self.flags:
            return f"command-line flag for `{path[0]}`"
        override = self._override(path)
        if override is not None:
            return f"-c {override.text}"
        if self.profile is not None and path and path[0] in self.profile_values:
            return self._file_position(("profiles", self.profile, *path))
        return self._file_position(path)

    def fix(self, path: Sequence[str]) -> str:
        """What to do about a bad value at ``path``: change it where :meth:`where` found it."""
        if path and path[0] in self.flags:
            return "pass another value"
        if self._override(path) is not None:
            return "correct the -c value"
        return f"correct it in {self.path.name}"

    def _override(self, path: Sequence[str]) -> Override | None:
        """The last ``-c`` that set ``path`` or a table around it (or a key inside it)."""
        for override in reversed(self.overrides):
            shared = min(len(override.path), len(path))
            if shared and tuple(override.path[:shared]) == tuple(path[:shared]):
                return override
        return None

    def _file_position(self, path: Sequence[str]) -> str:
        line = line_of(self.lines, path)
        return f"{self.path}:{line}" if line is not None else str(self.path)


def _read_document(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc} — make it readable "
                          "or move it away") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc} — fix the file or move it away") from None


def _describe(value: object) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


# Where ``msgspec`` says a value is wrong: "... - at `$.model_providers[...].wire_api`".
_AT = re.compile(r"^(?P<message>.*) - at `\$(?P<path>[^`]*)`$")
_STEP = re.compile(r"\.(\w+)|\[(\.\.\.|\d+)\]")


def _unwrap(annotation: Any) -> Any:
    """The type inside ``X | None`` and ``Annotated[X, ...]``."""
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        if type(None) in typing.get_args(annotation) and len(inner) == 1:
            annotation = inner[0]
            continue
        return annotation


def _field_type(table: Any, name: str) -> Any:
    if isinstance(table, type) and issubclass(table, msgspec.Struct):
        return _unwrap(typing.get_type_hints(table, include_extras=True).get(name))
    return None


def _locate(document: Mapping[str, Any], where: str) -> tuple[list[str], Any, Any]:
    """The key path, the value and the expected type at msgspec's error path ``where``.

    msgspec names a dictionary's entry ``[...]``; the entry is the one that does not
    convert to the dictionary's value type on its own.
    """
    path: list[str] = []
    node: Any = document
    expected: Any = Config
    for name, index in _STEP.findall(where):
        if name:
            path.append(name)
            node = node.get(name) if isinstance(node, Mapping) else None
            expected = _field_type(expected, name)
        elif index == "...":
            value_type = _unwrap(typing.get_args(expected)[1]) if typing.get_args(expected) else Any
            for key, value in (node.items() if isinstance(node, Mapping) else ()):
                try:
                    msgspec.convert(value, value_type)
                except msgspec.ValidationError:
                    path.append(str(key))
                    node = value
                    break
            expected = value_type
        else:
            node = node[int(index)] if isinstance(node, list) and int(index) < len(node) else None
            args = typing.get_args(expected)
            expected = _unwrap(args[0]) if args else None
    return path, node, expected


def _validation_error(exc: msgspec.ValidationError, document: Mapping[str, Any],
                      sources: _Sources) -> ConfigError:
    match = _AT.match(str(exc))
    message, where = (match["message"], match["path"]) if match else (str(exc), "")
    path, value, expected = _locate(document, where)
    if isinstance(expected, type) and issubclass(expected, enum.Enum):
        accepted = [repr(member.value) for member in expected]
        message = f"expected {', '.join(accepted[:-1])} or {accepted[-1]}"
    key = dotted(path) if path else "(top level)"
    return ConfigError(
        f"{sources.where(path)}: `{key}` = {_describe(value)}: {message} — {sources.fix(path)}"
    )


def _unknown_keys(document: Any, table: Any, path: KeyPath) -> list[KeyPath]:
    """Keys of ``document`` that ``table`` (a Struct type) does not declare, at any depth."""
    if not isinstance(document, Mapping):
        return []
    hints = typing.get_type_hints(table, include_extras=True)
    found: list[KeyPath] = []
    for key, value in document.items():
        if key not in table.__struct_fields__:
            found.append((*path, str(key)))
            continue
        expected = _unwrap(hints[key])
        if isinstance(expected, type) and issubclass(expected, msgspec.Struct):
            found.extend(_unknown_keys(value, expected, (*path, key)))
        elif typing.get_origin(expected) is dict and isinstance(value, Mapping):
            entry = _unwrap(typing.get_args(expected)[1])
            if isinstance(entry, type) and issubclass(entry, msgspec.Struct):
                for name, child in value.items():
                    found.extend(_unknown_keys(child, entry, (*path, key, str(name))))
    return found


def load_config(
    home: Path | None = None,
    *,
    overrides: Sequence[str] = (),
    profile: str | None = None,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """The effective configuration of ``home`` (default ``$LLMX_HOME``).

    ``flags`` are top-level keys set by command-line flags (``{"model": "o3"}``); ``None``
    values are ignored so callers can pass every flag as parsed.
    """
    home = llmx_home() if home is None else home
    path = config_path(home)
    document, text = _read_document(path)
    parsed = tuple(parse_override(o) for o in overrides)
    set_flags = {k: v for k, v in (flags or {}).items() if v is not None}

    with_overrides = deep_merge(document, {})
    for override in parsed:
        set_path(with_overrides, override.path, override.value)

    profile_name = profile if profile is not None else with_overrides.get("profile")
    profile_values: dict[str, Any] = {}
    lines = key_lines(text)
    if profile_name is not None:
        profiles = with_overrides.get("profiles")
        if not isinstance(profile_name, str):
            raise ConfigError(f"{path}: `profile` must be a string, got "
                              f"{_describe(profile_name)} — name a [profiles.NAME] table")
        if not isinstance(profiles, dict) or not isinstance(profiles.get(profile_name), dict):
            defined = sorted(profiles) if isinstance(profiles, dict) else []
            known = ", ".join(defined) or "none"
            raise ConfigError(
                f"config profile `{profile_name}` not found in {path} (defined: {known}) — "
                f"add a [profiles.{dotted([profile_name])}] table or pick another profile"
            )
        profile_values = profiles[profile_name]

    effective = deep_merge(document, profile_values)
    for override in parsed:
        if override.path[0] != "profiles":
            set_path(effective, override.path, override.value)
    effective["profiles"] = with_overrides.get("profiles", {})
    effective.update(set_flags)
    if profile_name is not None:
        effective["profile"] = profile_name

    sources = _Sources(path, lines, parsed, profile_name, profile_values, set_flags)
    # msgspec stops at the first bad value, in the document's order: the profiles go first,
    # so a bad value of the selected profile is named where it is written, in its table.
    effective = {"profiles": effective["profiles"], **effective}
    try:
        config = msgspec.convert(effective, Config)
    except msgspec.ValidationError as exc:
        raise _validation_error(exc, effective, sources) from None

    for name, info in config.model_providers.items():
        # Found when the file is read, not on the first request (or as a traceback).
        problem = None if info.base_url is None else base_url_problem(info.base_url)
        if problem is not None:
            key = ("model_providers", name, "base_url")
            raise ConfigError(
                f"{sources.where(key)}: `{dotted(key)}` = {_describe(info.base_url)}: "
                f'{problem} — write it like "http://127.0.0.1:8000/v1"'
            )

    warnings = [
        f"{sources.where(key)}: unknown config key `{dotted(key)}` ignored"
        for key in _unknown_keys(effective, Config, ())
        if not (len(key) == 1 and (key[0] in CODEX_PASSTHROUGH_KEYS))
    ]
    if config.mcp_servers:
        # Checked as Codex checks them, so a table it would refuse fails here too, with
        # the place it was set; the servers themselves start with a thread.
        from llmx.runtime.mcp.config import McpConfigError, parse_servers

        try:
            parse_servers(config.mcp_servers)
        except McpConfigError as exc:
            name = exc.server or ""
            raise ConfigError(
                f"{sources.where(('mcp_servers', name))}: {exc} — fix the "
                f"[mcp_servers.{dotted([name])}] table"
            ) from None
    environ = os.environ if env is None else env
    warnings.extend(
        f"{sources.where(('model_providers', name))}: `model_providers.{name}` redefines a "
        f"built-in provider and is ignored; give your provider another name"
        for name in sorted(set(config.model_providers) & set(built_in_providers(environ)))
    )
    providers = merge_providers(config.model_providers, environ)
    provider = providers.get(config.model_provider)
    if provider is None:
        raise ConfigError(
            f"{sources.where(('model_provider',))}: model_provider `{config.model_provider}` "
            f"is not defined — add [model_providers.{dotted([config.model_provider])}] with a "
            f"base_url, or use one of: {', '.join(sorted(providers))}"
        )
    return LoadedConfig(
        config=config,
        provider_id=config.model_provider,
        provider=provider,
        profile=profile_name,
        path=path,
        warnings=tuple(warnings),
        document=effective,
    )
