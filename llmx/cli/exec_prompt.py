"""``exec``'s prompt and stdin rules, as Codex applies them.

A positional prompt with a piped stdin gets the stdin text appended in a ``<stdin>``
block; ``-`` or no prompt reads the whole prompt from stdin. Decoding strips a UTF-8
BOM and honours UTF-16 BOMs; anything else that is not UTF-8 is refused.
"""

from __future__ import annotations

import codecs
import sys
from typing import BinaryIO

from llmx.cli.errors import CommandError

_CONVERT = "convert it to UTF-8 (for example with iconv) and try again"


class PromptError(CommandError):
    """A prompt problem: one line on stderr, exit status 1."""


def decode_stdin(raw: bytes) -> str:
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise PromptError("cannot read the prompt from stdin: UTF-32 input is not supported",
                          _CONVERT)
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise PromptError(f"cannot read the prompt from stdin: {exc}", _CONVERT) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PromptError(
            "cannot read the prompt from stdin: input is not valid UTF-8", _CONVERT
        ) from None


def resolve_prompt(prompt: str | None, stdin: BinaryIO, *, stdin_is_tty: bool) -> str:
    """The prompt text to send, reading stdin when the rules say so."""
    if prompt is not None and prompt != "-":
        if stdin_is_tty:
            return prompt
        print("Reading additional input from stdin...", file=sys.stderr)
        extra = decode_stdin(stdin.read())
        if not extra.strip():
            return prompt
        closing = "" if extra.endswith("\n") else "\n"
        return f"{prompt}\n\n<stdin>\n{extra}{closing}</stdin>"
    if prompt is None and stdin_is_tty:
        raise PromptError(
            "no prompt provided", "pass one as an argument or pipe it into stdin"
        )
    if prompt is None:
        print("Reading prompt from stdin...", file=sys.stderr)
    text = decode_stdin(stdin.read())
    if not text.strip():
        raise PromptError("no prompt provided via stdin", "pipe a prompt that is not blank")
    return text
