"""JSON-RPC errors as Codex's app-server words them.

Codex answers almost every rejection with ``-32600`` and a message that quotes serde's
decoding error (``Invalid request: missing field `input` ``), so clients that match on
those texts (the Python SDK parses some) work against llmx unchanged.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INTERNAL_ERROR = -32603


class RpcError(Exception):
    """An error answer: ``{"id", "error": {"code", "message", "data"?}}``."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def invalid_request(message: str) -> RpcError:
    return RpcError(INVALID_REQUEST, message)


@functools.cache
def codex_methods() -> tuple[str, ...]:
    """Every client method of Codex 0.169's protocol, in its schema's order (the list its
    "unknown variant" error quotes); ``methods.txt`` is generated from the schema."""
    text = resources.files(__package__).joinpath("methods.txt").read_text(encoding="utf-8")
    return tuple(line for line in text.splitlines() if line)


def unknown_method(method: str) -> RpcError:
    expected = ", ".join(f"`{name}`" for name in codex_methods())
    return invalid_request(
        f"Invalid request: unknown variant `{method}`, expected one of {expected}"
    )


def not_implemented(method: str, why: str) -> RpcError:
    """A method of Codex's protocol that llmx does not carry out (yet): said plainly,
    never answered with a pretended success."""
    return RpcError(METHOD_NOT_FOUND, f"{method} is not implemented by llmx: {why}")
