"""JSON nested too deeply to decode: a bad line like any other, never a crash.

msgspec (and the ``json`` module) decode nested arrays and objects recursively and raise
``RecursionError`` near the interpreter's recursion limit (about 1,000 levels less the
depth of the calling stack). Readers of stored JSON therefore treat ``RecursionError`` as
one of the errors of a line that does not decode (:data:`DECODE_ERRORS`): catching it
costs nothing on the lines that do decode, where a depth check ahead of every decode
would cost about a millisecond per megabyte read.

Where a fixed limit is wanted, :func:`nests_too_deeply` checks it before decoding: small
inputs from the outside (a model server's events, tool arguments, error bodies),
``llmx rollout check``, and a resume fold that met such a line (it reads again, checking).
The limit is serde_json's 128 levels, so a line the Codex CLI cannot read either. Only a
line holding more than 128 brackets is scanned for its real depth (brackets inside strings
do not count).
"""

from __future__ import annotations

import re

import msgspec

# serde_json's default recursion limit, which the Codex CLI reads rollouts with.
MAX_JSON_NESTING = 128

# What decoding stored JSON raises for input it cannot read, nesting included.
DECODE_ERRORS: tuple[type[Exception], ...] = (
    msgspec.DecodeError,
    msgspec.ValidationError,
    RecursionError,
)

# A JSON string (skipped whole: brackets inside it are text), or one bracket.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_OPENERS = frozenset(b"[{")


def nests_too_deeply(data: bytes | str, limit: int = MAX_JSON_NESTING) -> bool:
    """Whether the JSON text ``data`` has arrays or objects nested more than ``limit``
    levels deep (for text that is not valid JSON, an estimate on the safe side)."""
    if isinstance(data, str):
        if data.count("[") + data.count("{") <= limit:
            return False
        data = data.encode("utf-8", "surrogatepass")
    elif data.count(b"[") + data.count(b"{") <= limit:
        return False
    depth = 0
    for match in _TOKENS.finditer(data):
        first = data[match.start()]
        if first in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif first != 0x22:  # a closing bracket (a string is skipped)
            depth -= 1
    return False


def nesting_problem(limit: int = MAX_JSON_NESTING) -> str:
    """The reason a reader gives for such a line."""
    return f"JSON nested more than {limit} levels deep"


def check_nesting(data: bytes | str, limit: int = MAX_JSON_NESTING) -> None:
    """Raise ``ValueError`` (what ``json.loads`` raises for bad JSON) for text nested too
    deeply, so a caller's handling of bad JSON covers it."""
    if nests_too_deeply(data, limit):
        raise ValueError(nesting_problem(limit))
