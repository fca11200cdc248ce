"""One ``[mcp_servers.NAME]`` table, read and checked as Codex 0.169 checks it.

The keys and the refusals follow Codex: ``command`` makes a stdio server and ``url`` a
streamable HTTP one; a key of the other transport is refused with "``KEY`` is not
supported for ``TRANSPORT``", a table with neither is an "invalid transport", and an
unknown key is refused (Codex denies unknown fields in these tables). Nothing here
imports the SDK: the configuration is checked when it loads, servers or not.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Codex's defaults: 10 s to start and list the tools, 60 s for one call.
DEFAULT_STARTUP_TIMEOUT_SEC = 10.0
DEFAULT_TOOL_TIMEOUT_SEC = 60.0

_STDIO_ONLY = ("args", "env", "env_vars", "cwd")
_HTTP_ONLY = ("bearer_token_env_var", "http_headers", "env_http_headers", "oauth",
              "oauth_resource")
_KNOWN = frozenset({
    "command", "args", "env", "env_vars", "cwd", "http_headers", "env_http_headers", "url",
    "bearer_token", "bearer_token_env_var", "experimental_environment",
    "startup_timeout_sec", "startup_timeout_ms", "tool_timeout_sec", "enabled", "required",
    "supports_parallel_tool_calls", "default_tools_approval_mode", "enabled_tools",
    "disabled_tools", "scopes", "oauth", "oauth_resource", "name", "tools",
})


class McpConfigError(ValueError):
    """A server table Codex would refuse; ``str()`` is Codex's reason, ``server`` the
    table's name once known."""

    def __init__(self, message: str, server: str | None = None) -> None:
        super().__init__(message)
        self.server = server


class ToolApproval(enum.StrEnum):
    """``approval_mode`` of a tool (``default_tools_approval_mode`` of a server)."""

    # Ask unless the server marks the tool read-only (its ``readOnlyHint``).
    AUTO = "auto"
    # Always ask.
    PROMPT = "prompt"
    # Never ask.
    APPROVE = "approve"


@dataclass(frozen=True)
class StdioTransport:
    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] | None = None
    # Variables of llmx's own environment passed on to the server by name.
    env_vars: tuple[str, ...] = ()
    cwd: Path | None = None


@dataclass(frozen=True)
class HttpTransport:
    url: str
    bearer_token_env_var: str | None = None
    http_headers: Mapping[str, str] | None = None
    # Header name -> the environment variable holding its value.
    env_http_headers: Mapping[str, str] | None = None


@dataclass(frozen=True)
class McpServerConfig:
    name: str
    transport: StdioTransport | HttpTransport
    enabled: bool = True
    # A required server that fails to start stops the thread from opening.
    required: bool = False
    startup_timeout_sec: float = DEFAULT_STARTUP_TIMEOUT_SEC
    tool_timeout_sec: float = DEFAULT_TOOL_TIMEOUT_SEC
    enabled_tools: tuple[str, ...] | None = None
    disabled_tools: tuple[str, ...] = ()
    default_tools_approval_mode: ToolApproval = ToolApproval.AUTO
    tool_approval_modes: Mapping[str, ToolApproval] = field(default_factory=dict)

    def offers(self, tool: str) -> bool:
        """Whether ``tool`` is offered: in ``enabled_tools`` (when set), not disabled."""
        if self.enabled_tools is not None and tool not in self.enabled_tools:
            return False
        return tool not in self.disabled_tools

    def approval_mode(self, tool: str) -> ToolApproval:
        return self.tool_approval_modes.get(tool, self.default_tools_approval_mode)

    @property
    def transport_name(self) -> str:
        return "stdio" if isinstance(self.transport, StdioTransport) else "streamable_http"


def parse_servers(raw: Mapping[str, Any]) -> dict[str, McpServerConfig]:
    """Every server of ``[mcp_servers]``, or :class:`McpConfigError` naming the first bad
    one as ``mcp_servers.NAME: reason``."""
    servers: dict[str, McpServerConfig] = {}
    for name, table in raw.items():
        try:
            servers[name] = parse_server(name, table)
        except McpConfigError as exc:
            raise McpConfigError(f"mcp_servers.{name}: {exc}", name) from None
    return servers


def parse_server(name: str, table: Any) -> McpServerConfig:
    if not isinstance(table, Mapping):
        raise McpConfigError("expected a table")
    unknown = sorted(set(table) - _KNOWN)
    if unknown:
        raise McpConfigError(f"unknown field `{unknown[0]}`")
    transport = _transport(table)
    startup = _number(table, "startup_timeout_sec")
    if startup is None:
        millis = _number(table, "startup_timeout_ms")
        startup = DEFAULT_STARTUP_TIMEOUT_SEC if millis is None else millis / 1000
    tool_timeout = _number(table, "tool_timeout_sec")
    enabled_tools = _strings(table, "enabled_tools")
    return McpServerConfig(
        name=name,
        transport=transport,
        enabled=_bool(table, "enabled", default=True),
        required=_bool(table, "required", default=False),
        startup_timeout_sec=startup,
        tool_timeout_sec=DEFAULT_TOOL_TIMEOUT_SEC if tool_timeout is None else tool_timeout,
        enabled_tools=enabled_tools,
        disabled_tools=_strings(table, "disabled_tools") or (),
        default_tools_approval_mode=_approval(table.get("default_tools_approval_mode"),
                                              "default_tools_approval_mode"),
        tool_approval_modes=_tool_modes(table.get("tools")),
    )


def _transport(table: Mapping[str, Any]) -> StdioTransport | HttpTransport:
    command = table.get("command")
    url = table.get("url")
    if command is not None:
        for key in ("url", *_HTTP_ONLY, "bearer_token"):
            if key in table:
                raise McpConfigError(f"{key} is not supported for stdio")
        if not isinstance(command, str):
            raise McpConfigError("`command` must be a string")
        cwd = table.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise McpConfigError("`cwd` must be a string")
        return StdioTransport(
            command=command,
            args=_strings(table, "args") or (),
            env=_string_map(table, "env"),
            env_vars=_env_vars(table.get("env_vars")),
            cwd=None if cwd is None else Path(cwd).expanduser(),
        )
    if url is not None:
        for key in (*_STDIO_ONLY, "bearer_token"):
            if key in table:
                raise McpConfigError(f"{key} is not supported for streamable_http")
        if not isinstance(url, str):
            raise McpConfigError("`url` must be a string")
        token_var = table.get("bearer_token_env_var")
        if token_var is not None and not isinstance(token_var, str):
            raise McpConfigError("`bearer_token_env_var` must be a string")
        return HttpTransport(
            url=url,
            bearer_token_env_var=token_var,
            http_headers=_string_map(table, "http_headers"),
            env_http_headers=_string_map(table, "env_http_headers"),
        )
    raise McpConfigError("invalid transport")


def _number(table: Mapping[str, Any], key: str) -> float | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise McpConfigError(f"`{key}` must be a non-negative number of seconds"
                             if key != "startup_timeout_ms" else
                             f"`{key}` must be a non-negative number of milliseconds")
    return float(value)


def _bool(table: Mapping[str, Any], key: str, *, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise McpConfigError(f"`{key}` must be true or false")
    return value


def _strings(table: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise McpConfigError(f"`{key}` must be a list of strings")
    return tuple(value)


def _string_map(table: Mapping[str, Any], key: str) -> dict[str, str] | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise McpConfigError(f"`{key}` must be a table of strings")
    return dict(value)


def _env_vars(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise McpConfigError("`env_vars` must be a list")
    names: list[str] = []
    for entry in value:
        if isinstance(entry, str):
            names.append(entry)
            continue
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise McpConfigError("`env_vars` entries are names or {name, source} tables")
        source = entry.get("source")
        if source not in (None, "local", "remote"):
            raise McpConfigError(
                f"unsupported env_vars source `{source}`; expected `local` or `remote`"
            )
        names.append(entry["name"])
    return tuple(names)


def _approval(value: Any, key: str) -> ToolApproval:
    if value is None:
        return ToolApproval.AUTO
    try:
        return ToolApproval(value)
    except ValueError:
        raise McpConfigError(
            f"`{key}` must be one of auto, prompt, approve (not {value!r})"
        ) from None


def _tool_modes(value: Any) -> dict[str, ToolApproval]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise McpConfigError("`tools` must be a table of tool tables")
    modes: dict[str, ToolApproval] = {}
    for tool, settings in value.items():
        if not isinstance(settings, Mapping):
            raise McpConfigError(f"`tools.{tool}` must be a table")
        unknown = sorted(set(settings) - {"approval_mode"})
        if unknown:
            raise McpConfigError(f"`tools.{tool}`: unknown field `{unknown[0]}`")
        if "approval_mode" in settings:
            modes[tool] = _approval(settings["approval_mode"], f"tools.{tool}.approval_mode")
    return modes
