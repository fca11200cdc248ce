"""``llmx mcp list|get|add|remove``: the ``[mcp_servers]`` of ``config.toml``, as
``codex mcp`` manages them.

``add`` and ``remove`` edit the file with tomlkit, which keeps everything else in it as
it was: other tables, comments, blank lines, the order of keys. The new file replaces
the old one in one rename, with the old one's mode.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

# The names Codex 0.169 accepts for a server.
_NAME = re.compile(r"^[A-Za-z0-9_\-:@/.]+$")
_MASK = "*****"


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "mcp", help="manage the MCP servers of config.toml (list, get, add, remove)"
    )
    commands = parser.add_subparsers(dest="mcp_command", metavar="COMMAND", required=True)
    listing = commands.add_parser("list", help="list the configured MCP servers")
    listing.add_argument("--json", action="store_true", help="the servers as JSON")
    listing.set_defaults(handler=_list)
    get = commands.add_parser("get", help="show one configured MCP server")
    get.add_argument("name", help="the server's name")
    get.add_argument("--json", action="store_true", help="the server as JSON")
    get.set_defaults(handler=_get)
    add = commands.add_parser(
        "add", help="add an MCP server to config.toml (or replace the one of that name)",
        usage="llmx mcp add [-h] [--env KEY=VALUE] NAME (--url URL | -- COMMAND...)",
    )
    # NAME, then (options anywhere) the command after ``--``: argparse would bind an
    # empty command to NAME's neighbour, so the rest of the line is read by _add_words.
    add.add_argument("words", nargs=argparse.REMAINDER, metavar="NAME [-- COMMAND...]",
                     help="the server's name (letters, digits, - _ : @ / .), then the "
                     "command that starts a stdio server, after --")
    add.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                     help="an environment variable for a stdio server (repeatable)")
    add.add_argument("--url", help="the URL of a streamable HTTP server")
    add.add_argument("--bearer-token-env-var", metavar="ENV_VAR",
                     help="the environment variable holding a bearer token (HTTP servers)")
    add.set_defaults(handler=_add)
    remove = commands.add_parser("remove", help="remove an MCP server from config.toml")
    remove.add_argument("name", help="the server's name")
    remove.set_defaults(handler=_remove)


# -- reading ---------------------------------------------------------------------------


def _servers() -> dict[str, Any]:
    """The configured servers, checked (a bad table is the usual one-line error)."""
    from llmx.cli.errors import CommandError
    from llmx.runtime.config.load import load_config
    from llmx.runtime.config.types import ConfigError
    from llmx.runtime.mcp.config import parse_servers

    try:
        loaded = load_config()
    except ConfigError as error:
        raise CommandError(str(error)) from None
    return dict(sorted(parse_servers(loaded.config.mcp_servers).items()))


def _transport_json(server: Any) -> dict[str, Any]:
    from llmx.runtime.mcp.config import StdioTransport

    transport = server.transport
    if isinstance(transport, StdioTransport):
        return {
            "type": "stdio", "command": transport.command, "args": list(transport.args),
            "env": None if transport.env is None else dict(sorted(transport.env.items())),
            "env_vars": list(transport.env_vars),
            "cwd": None if transport.cwd is None else str(transport.cwd),
        }
    return {
        "type": "streamable_http", "url": transport.url,
        "bearer_token_env_var": transport.bearer_token_env_var,
        "http_headers": None if transport.http_headers is None else dict(transport.http_headers),
        "env_http_headers": (None if transport.env_http_headers is None
                             else dict(transport.env_http_headers)),
    }


def _auth(server: Any) -> tuple[str, str]:
    """(``auth_status``, the column's text), as Codex names them."""
    bearer = getattr(server.transport, "bearer_token_env_var", None)
    return ("bearer_token", "Bearer token") if bearer else ("unsupported", "Unsupported")


def _masked(env: Any) -> str:
    if not env:
        return "-"
    return ", ".join(f"{key}={_MASK}" for key in sorted(env))


def _list(args: argparse.Namespace) -> int:
    import json

    from llmx.runtime.mcp.config import StdioTransport

    servers = _servers()
    if args.json:
        print(json.dumps([{
            "name": name, "enabled": server.enabled, "disabled_reason": None,
            "transport": _transport_json(server),
            "startup_timeout_sec": server.startup_timeout_sec,
            "tool_timeout_sec": server.tool_timeout_sec,
            "auth_status": _auth(server)[0],
        } for name, server in servers.items()], indent=2))
        return 0
    if not servers:
        print("No MCP servers configured yet. Try `llmx mcp add my-tool -- my-command`.")
        return 0
    stdio = [[name, s.transport.command, " ".join(s.transport.args) or "-",
              _masked(s.transport.env), str(s.transport.cwd or "-"),
              "enabled" if s.enabled else "disabled", _auth(s)[1]]
             for name, s in servers.items() if isinstance(s.transport, StdioTransport)]
    http = [[name, s.transport.url, s.transport.bearer_token_env_var or "-",
             "enabled" if s.enabled else "disabled", _auth(s)[1]]
            for name, s in servers.items() if not isinstance(s.transport, StdioTransport)]
    blocks = []
    if stdio:
        blocks.append(_table(["Name", "Command", "Args", "Env", "Cwd", "Status", "Auth"], stdio))
    if http:
        blocks.append(_table(["Name", "Url", "Bearer Token Env Var", "Status", "Auth"], http))
    print("\n\n".join(blocks))
    return 0


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
                     for row in [header, *rows])


def _get(args: argparse.Namespace) -> int:
    import json

    from llmx.cli.errors import CommandError
    from llmx.runtime.mcp.config import StdioTransport

    server = _servers().get(args.name)
    if server is None:
        raise CommandError(f"no MCP server named `{args.name}`",
                           "`llmx mcp list` shows the configured ones")
    if args.json:
        print(json.dumps({
            "name": args.name, "enabled": server.enabled, "disabled_reason": None,
            "transport": _transport_json(server),
            "enabled_tools": None if server.enabled_tools is None else list(server.enabled_tools),
            "disabled_tools": list(server.disabled_tools) or None,
            "startup_timeout_sec": server.startup_timeout_sec,
            "tool_timeout_sec": server.tool_timeout_sec,
        }, indent=2))
        return 0
    transport = server.transport
    lines = [args.name, f"  enabled: {str(server.enabled).lower()}",
             f"  transport: {server.transport_name}"]
    if isinstance(transport, StdioTransport):
        lines += [f"  command: {transport.command}", f"  args: {' '.join(transport.args) or '-'}",
                  f"  cwd: {transport.cwd or '-'}", f"  env: {_masked(transport.env)}"]
    else:
        lines += [f"  url: {transport.url}",
                  f"  bearer_token_env_var: {transport.bearer_token_env_var or '-'}",
                  f"  http_headers: {_masked(transport.http_headers)}",
                  f"  env_http_headers: {_masked(transport.env_http_headers)}"]
    lines.append(f"  remove: llmx mcp remove {args.name}")
    print("\n".join(lines))
    return 0


# -- editing ---------------------------------------------------------------------------


def _add_words(args: argparse.Namespace) -> None:
    """``args.name`` and ``args.command`` from the words after the options argparse read
    (the options may also follow NAME)."""
    from llmx.cli.errors import CommandError

    words = list(args.words)
    args.name, args.command = None, []
    while words:
        word = words.pop(0)
        if word == "--":
            args.command = words
            break
        if word in ("--env", "--url", "--bearer-token-env-var"):
            if not words:
                raise CommandError(f"{word} needs a value")
            value = words.pop(0)
            if word == "--env":
                args.env.append(value)
            else:
                setattr(args, word.removeprefix("--").replace("-", "_"), value)
        elif args.name is None and not word.startswith("-"):
            args.name = word
        else:
            raise CommandError(f"unexpected argument `{word}`",
                               "llmx mcp add NAME (--url URL | -- COMMAND [ARGS...])")
    if args.name is None:
        raise CommandError("a server name is required",
                           "llmx mcp add NAME (--url URL | -- COMMAND [ARGS...])")


def _add(args: argparse.Namespace) -> int:
    import tomlkit

    from llmx.cli.errors import CommandError

    _add_words(args)
    _check_name(args.name)
    server = tomlkit.table()
    if args.url is not None:
        if args.command:
            raise CommandError("give either --url or a command after --, not both",
                               "drop one of them", code=2)
        if args.env:
            raise CommandError("--env is only for stdio servers",
                               "pass the variables the HTTP server needs to it yourself")
        server["url"] = args.url
        if args.bearer_token_env_var:
            server["bearer_token_env_var"] = args.bearer_token_env_var
    else:
        if not args.command:
            raise CommandError("a command is required",
                               "llmx mcp add NAME -- COMMAND [ARGS...], or --url URL", code=2)
        if args.bearer_token_env_var:
            raise CommandError("--bearer-token-env-var is only for streamable HTTP servers",
                               "use it with --url", code=2)
        server["command"] = args.command[0]
        server["args"] = args.command[1:]
        env = _env_pairs(args.env)
        if env:
            table = tomlkit.table()
            for key, value in env.items():
                table[key] = value
            server["env"] = table
    server.add(tomlkit.nl())
    document, path = _read_document()
    servers = document.get("mcp_servers")
    if servers is None:
        servers = tomlkit.table(is_super_table=True)
        document["mcp_servers"] = servers
    servers[args.name] = server
    _write_document(document, path)
    print(f"Added global MCP server '{args.name}'.")
    return 0


def _remove(args: argparse.Namespace) -> int:
    _check_name(args.name)
    document, path = _read_document()
    servers = document.get("mcp_servers")
    if servers is None or args.name not in servers:
        print(f"No MCP server named '{args.name}' found.")
        return 0
    del servers[args.name]
    if not servers:
        del document["mcp_servers"]
    _write_document(document, path)
    print(f"Removed global MCP server '{args.name}'.")
    return 0


def _check_name(name: str) -> None:
    from llmx.cli.errors import CommandError

    if not _NAME.match(name):
        raise CommandError(f"invalid server name `{name}`",
                           "use letters, numbers, '-', '_', ':', '@', '/', '.'")


def _env_pairs(pairs: list[str]) -> dict[str, str]:
    from llmx.cli.errors import CommandError

    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--env {pair}: environment entries must be in KEY=VALUE form",
                               "write it as --env KEY=VALUE", code=2)
        env[key.strip()] = value
    return env


def _read_document() -> tuple[Any, Any]:
    import tomlkit
    from tomlkit.exceptions import ParseError

    from llmx.cli.errors import CommandError, os_error
    from llmx.events.home import config_path, llmx_home

    path = config_path(llmx_home())
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except OSError as error:
        raise os_error(error, path, doing="cannot read") from None
    try:
        return tomlkit.parse(text), path
    except ParseError as error:
        raise CommandError(f"{path}: not valid TOML ({error})",
                           "fix the file, then run the command again") from None


def _write_document(document: Any, path: Any) -> None:
    """Replace ``path`` in one rename, keeping its mode (0600 for a new file)."""
    import os
    import tempfile

    import tomlkit

    from llmx.cli.errors import os_error

    text = tomlkit.dumps(document)
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o600
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".config.toml.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, mode)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as error:
        raise os_error(error, path, doing="cannot write") from None
