"""The names MCP tools have for the model, as Codex 0.169 gives them.

On the Responses API a server's tools are one ``namespace`` tool named
``mcp__SERVER`` holding the server's own tool names; the model calls ``add`` with
``namespace: "mcp__calc"``. The Chat Completions API has no namespaces, so there each
tool is a function named ``mcp__SERVER__TOOL``. Names keep to ``[A-Za-z0-9_-]`` (other
characters become ``_``) and to 64 characters (a longer one ends in a hash of the whole).
"""

from __future__ import annotations

import hashlib
import re

PREFIX = "mcp"
DELIMITER = "__"
MAX_NAME_LENGTH = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def sanitize(name: str) -> str:
    return _UNSAFE.sub("_", name)


def _bounded(name: str) -> str:
    if len(name) <= MAX_NAME_LENGTH:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()
    return name[: MAX_NAME_LENGTH - len(digest)] + digest


def namespace(server: str) -> str:
    """``mcp__SERVER``: the namespace of a server's tools."""
    return _bounded(f"{PREFIX}{DELIMITER}{sanitize(server)}")


def tool_name(tool: str) -> str:
    """A tool's name inside its namespace."""
    return _bounded(sanitize(tool))


def qualified(server: str, tool: str) -> str:
    """``mcp__SERVER__TOOL``: a tool's one name where there are no namespaces."""
    return _bounded(f"{PREFIX}{DELIMITER}{sanitize(server)}{DELIMITER}{sanitize(tool)}")
