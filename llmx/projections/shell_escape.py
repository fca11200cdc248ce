"""Shell quoting of an argv, byte-for-byte like the Rust ``shlex`` crate that Codex uses.

Codex shows a command as ``shlex::try_join(argv)``: each word is split into chunks, and each
chunk is left bare, single-quoted or double-quoted, whichever covers the longest prefix. That
is why ``bash -lc "a 'b'"`` comes out in double quotes where Python's ``shlex.join`` would use
the ``'"'"'`` dance. Matching it exactly keeps ``exec --json`` command strings identical.
"""

from __future__ import annotations

from collections.abc import Iterable

_UNQUOTED = 1
_SINGLE = 2
_DOUBLE = 4
_ALL = _UNQUOTED | _SINGLE | _DOUBLE

_BARE_SAFE = frozenset(
    "+-./:@]_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)
# Single quotes cannot hold a quote; ``^`` and ``\`` are avoided for Bash and Fish quirks.
_SINGLE_UNSAFE = frozenset("'^\\")
# ``$`` and backquote are not escaped inside double quotes (Python's shlex mishandles the
# escapes); ``!`` and ``^`` are special in interactive shells.
_DOUBLE_UNSAFE = frozenset("`$!^")
_DOUBLE_ESCAPED = frozenset('$`"\\')


def _allowed(ch: str) -> int:
    if ord(ch) >= 0x80:
        return _SINGLE | _DOUBLE
    mask = 0
    if ch in _BARE_SAFE:
        mask |= _UNQUOTED
    if ch not in _SINGLE_UNSAFE:
        mask |= _SINGLE
    if ch not in _DOUBLE_UNSAFE:
        mask |= _DOUBLE
    return mask


def _next_chunk(word: str) -> tuple[int, int]:
    """Length of the longest prefix one strategy can cover, and that strategy."""
    ok = _ALL
    i = 0
    if word[0] == "^":
        ok = _SINGLE
        i = 1
    while i < len(word):
        cur = ok & _allowed(word[i])
        if cur == 0:
            break
        ok = cur
        i += 1
    if ok & _UNQUOTED:
        return i, _UNQUOTED
    if ok & _SINGLE:
        return i, _SINGLE
    return i, _DOUBLE


def quote_word(word: str) -> str:
    """One argument as the shell would need it typed."""
    if word == "":
        return "''"
    out: list[str] = []
    rest = word
    while rest:
        size, strategy = _next_chunk(rest)
        chunk, rest = rest[:size], rest[size:]
        if strategy == _UNQUOTED:
            out.append(chunk)
        elif strategy == _SINGLE:
            out.append(f"'{chunk}'")
        else:
            escaped = "".join("\\" + c if c in _DOUBLE_ESCAPED else c for c in chunk)
            out.append(f'"{escaped}"')
    return "".join(out)


def join_command(argv: Iterable[str]) -> str:
    """The whole argv as one shell-typable line (``shlex::try_join``).

    A NUL byte makes ``try_join`` fail; Codex then joins with plain spaces, and so do we.
    """
    words = list(argv)
    if any("\0" in w for w in words):
        return " ".join(words)
    return " ".join(quote_word(w) for w in words)
