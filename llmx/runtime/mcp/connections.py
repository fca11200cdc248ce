"""The servers of one thread: started together, each in a task of its own.

This is the one module that imports the ``mcp`` SDK, and only once a thread with
servers starts them, so a run without ``[mcp_servers]`` never loads it. Every enabled
server starts at once and none waits for another; a turn offers the tools of the
servers ready when it sends a request, so a slow server joins a later request (the turn
records when it does). A ``required`` server is waited for when the thread opens: if it
fails, the thread does not open.

The SDK's client must be entered and left by one task, so each server's task holds its
client open until the thread closes; calls are made from the turn's task through it.
"""

from __future__ import annotations

import asyncio
import enum
import math
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmx import __version__, install_hint
from llmx.runtime.mcp.config import HttpTransport, McpServerConfig, StdioTransport
from llmx.runtime.mcp.forms import has_fields
from llmx.runtime.mcp.stderr_log import StderrLog, describe_start, stderr_log_path

if TYPE_CHECKING:
    from mcp.client import Client

# What a stdio server gets of llmx's environment, as Codex passes it (plus the
# variables naming CA bundles, which TLS clients in the server need to trust a proxy).
INHERITED_ENV_VARS = (
    "HOME", "LOGNAME", "PATH", "SHELL", "USER", "__CF_USER_TEXT_ENCODING", "LANG", "LC_ALL",
    "TERM", "TMPDIR", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
)


class ServerState(enum.StrEnum):
    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"


class McpCallError(Exception):
    """A call that got no result from its server; ``str()`` says why."""


class McpStartupError(Exception):
    """A required server did not start; ``server`` names it, ``str()`` says why."""

    def __init__(self, server: str, message: str) -> None:
        super().__init__(message)
        self.server = server


@dataclass(frozen=True)
class McpTool:
    server: str
    name: str
    description: str
    input_schema: dict[str, Any]
    # The server's hint that the tool changes nothing (``annotations.readOnlyHint``).
    read_only: bool


@dataclass
class McpServer:
    """One configured server and how its start went."""

    config: McpServerConfig
    state: ServerState = ServerState.STARTING
    error: str | None = None
    tools: list[McpTool] = field(default_factory=list)
    description: str | None = None
    client: Client | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)
    # Where a stdio server's stderr goes while it runs (None: nowhere).
    stderr: StderrLog | None = None
    # Asks the user a question of the server while one of its tools runs: its message and,
    # for a form to fill in, the form's schema (None for a yes or no). The answer is
    # accept (with the form's content), decline or cancel. None between calls: the
    # server is refused.
    ask: Callable[[str, dict[str, Any] | None],
                  Awaitable[tuple[str, dict[str, Any] | None]]] | None = None

    @property
    def name(self) -> str:
        return self.config.name

    def has_failed(self) -> bool:
        # A method, not a comparison at the call site: the state changes across awaits.
        return self.state is ServerState.FAILED


def stdio_environment(config: StdioTransport, environ: Mapping[str, str]) -> dict[str, str]:
    """The whole environment of a stdio server: the inherited variables, those named in
    ``env_vars``, then ``env``."""
    env = {name: environ[name] for name in (*INHERITED_ENV_VARS, *config.env_vars)
           if name in environ}
    env.update(config.env or {})
    return env


def http_headers(config: HttpTransport, environ: Mapping[str, str]) -> dict[str, str]:
    """The headers of every request to an HTTP server: ``http_headers``, those read from
    the environment (``env_http_headers``; an unset variable adds nothing), the bearer
    token."""
    headers = dict(config.http_headers or {})
    for header, variable in (config.env_http_headers or {}).items():
        value = environ.get(variable)
        if value:
            headers[header] = value
    if config.bearer_token_env_var is not None:
        token = environ.get(config.bearer_token_env_var)
        if not token:
            raise McpCallError(
                f"environment variable {config.bearer_token_env_var} (bearer_token_env_var) "
                "is not set"
            )
        headers["Authorization"] = f"Bearer {token}"
    return headers


class McpConnections:
    """The MCP servers of one thread."""

    def __init__(
        self, servers: Mapping[str, McpServerConfig], *, cwd: Path,
        environ: Mapping[str, str] | None = None, log_dir: Path | None = None,
    ) -> None:
        self._environ = os.environ if environ is None else environ
        self._cwd = cwd
        # Where each stdio server's stderr is kept (see ``stderr_log``); None drops it.
        self._log_dir = log_dir
        self.servers = {name: McpServer(config) for name, config in servers.items()
                        if config.enabled}
        self._closing = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # The state of each server the thread's log last recorded (see turn_hook).
        self.reported: dict[str, ServerState] = {}

    def start(self) -> None:
        """Start every server (each in a task); returns at once."""
        for server in self.servers.values():
            self._tasks.append(asyncio.create_task(self._run(server),
                                                   name=f"mcp-{server.name}"))

    async def wait_required(self) -> None:
        """Wait for the ``required`` servers; :class:`McpStartupError` for one that failed."""
        for server in self.servers.values():
            if server.config.required:
                await server.started.wait()
                if server.has_failed():
                    raise McpStartupError(server.name, server.error or "failed to start")

    def tool(self, server: str, tool: str) -> tuple[McpServer, McpTool] | None:
        found = self.servers.get(server)
        if found is None or found.state is not ServerState.READY:
            return None
        for candidate in found.tools:
            if candidate.name == tool:
                return found, candidate
        return None

    async def call(
        self, server: McpServer, tool: str, arguments: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The result of ``tool`` (``CallToolResult`` in its JSON shape), or
        :class:`McpCallError` when the server gave none in ``tool_timeout_sec``."""
        from mcp.shared.exceptions import MCPError

        client = server.client
        if client is None or server.state is not ServerState.READY:
            raise McpCallError(f"MCP server `{server.name}` is not running")
        timeout = server.config.tool_timeout_sec
        try:
            async with asyncio.timeout(timeout):
                result = await client.call_tool(tool, arguments)
        except TimeoutError:
            raise McpCallError(
                f"tool call error: `{tool}` timed out after {timeout:g} s (tool_timeout_sec)"
            ) from None
        except MCPError as exc:
            raise McpCallError(f"tool call error: {exc}") from None
        except Exception as exc:
            if server.has_failed():
                raise McpCallError(f"tool call error: {server.error}") from None
            raise McpCallError(f"tool call error: {_describe(exc)}") from None
        if server.has_failed():
            raise McpCallError(f"tool call error: {server.error}")
        dumped: dict[str, Any] = result.model_dump(mode="json", by_alias=True,
                                                   exclude_none=True)
        return dumped

    async def close(self) -> None:
        """Stop every server (their clients close their processes and sessions)."""
        self._closing.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    # -- one server ------------------------------------------------------------------

    async def _run(self, server: McpServer) -> None:
        import anyio

        try:
            client = self._client(server)
            with anyio.CancelScope() as scope:
                scope.deadline = anyio.current_time() + server.config.startup_timeout_sec
                async with client:
                    tools = await _list_tools(client, server.config)
                    # Started: from now on only the thread's end stops it.
                    scope.deadline = math.inf
                    server.tools = tools
                    server.description = client.session.instructions
                    server.client = client
                    server.state = ServerState.READY
                    server.started.set()
                    await self._closing.wait()
            if scope.cancelled_caught and server.state is ServerState.STARTING:
                self._failed(server, "timed out after "
                             f"{server.config.startup_timeout_sec:g} s (startup_timeout_sec)")
        except ImportError as exc:
            # llmx's own mcp extra is missing, not anything of the server's.
            self._failed(server, f"llmx cannot start MCP servers without the MCP SDK ({exc}): "
                         + install_hint("mcp"))
        except Exception as exc:
            self._failed(server, _describe(exc))
        finally:
            if server.state is ServerState.STARTING:
                self._failed(server, "stopped before it started")
            server.client = None
            if server.stderr is not None:
                server.stderr.close()

    def _failed(self, server: McpServer, message: str) -> None:
        if server.stderr is not None:
            # What the server said last, and where the rest of it is.
            last = server.stderr.last_line()
            kept = f"its stderr is in {server.stderr.path}"
            message = f"{message} (stderr: {last}; {kept})" if last else f"{message} ({kept})"
        if server.state is ServerState.READY:
            # It was running: calls made from now on say it stopped.
            message = f"MCP server `{server.name}` stopped: {message}"
        server.state = ServerState.FAILED
        server.error = message
        server.started.set()

    def _client(self, server: McpServer) -> Client:
        from mcp.client import Client
        from mcp_types import Implementation

        info = Implementation(name="llmx", version=__version__)
        config = server.config
        transport = config.transport

        async def elicit(context: Any, params: Any) -> Any:
            return await _elicited(server, params)

        if isinstance(transport, StdioTransport):
            from mcp.client.stdio import StdioServerParameters, stdio_client

            params = StdioServerParameters(
                command=transport.command,
                args=list(transport.args),
                env=stdio_environment(transport, self._environ),
                cwd=transport.cwd or self._cwd,
            )
            # The server's stderr is its log, not llmx's output: kept in a file of its own.
            errlog = None
            if self._log_dir is not None:
                server.stderr = StderrLog(stderr_log_path(self._log_dir, server.name))
                errlog = server.stderr.open(
                    describe_start(transport.command, transport.args))
                if errlog is None:
                    server.stderr = None
            return Client(stdio_client(params, errlog=errlog or _devnull()), client_info=info,
                          elicitation_callback=elicit)
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        http = create_mcp_http_client(headers=http_headers(transport, self._environ))
        return Client(streamable_http_client(transport.url, http_client=http),
                      client_info=info, elicitation_callback=elicit)


async def _elicited(server: McpServer, params: Any) -> Any:
    """A server's question, asked the way approvals are (see ``calls``) while one of its
    tools runs: a yes or no, or a form to fill in. A question outside a call, or one
    that sends the user to a web page (URL mode, which no frontend opens), is declined."""
    from mcp_types import ElicitResult

    ask = server.ask
    if ask is None or getattr(params, "mode", "form") != "form":
        return ElicitResult(action="decline")
    schema: Any = getattr(params, "requested_schema", None)
    form = dict(schema) if has_fields(schema) else None
    action, content = await ask(str(getattr(params, "message", "")), form)
    if action == "accept":
        return ElicitResult(action="accept", content=content or {})
    return ElicitResult(action="cancel" if action == "cancel" else "decline")


async def _list_tools(client: Client, config: McpServerConfig) -> list[McpTool]:
    tools: list[McpTool] = []
    cursor: str | None = None
    while True:
        page = await client.list_tools(cursor=cursor)
        for tool in page.tools:
            if not config.offers(tool.name):
                continue
            annotations = tool.annotations
            tools.append(McpTool(
                server=config.name,
                name=tool.name,
                description=tool.description or "",
                input_schema=dict(tool.input_schema),
                read_only=bool(annotations is not None and annotations.read_only_hint),
            ))
        cursor = page.next_cursor
        if not cursor:
            return tools


def _describe(exc: BaseException) -> str:
    """One line for an error, the first real one inside an exception group."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


_DEVNULL: Any = None


def _devnull() -> Any:
    global _DEVNULL
    if _DEVNULL is None:
        _DEVNULL = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - kept for the process
    return _DEVNULL
