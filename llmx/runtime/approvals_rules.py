"""Command classification for approvals: known-safe and dangerous commands.

A ``bash -lc "<script>"`` is split into its plain commands (words joined by ``&&``,
``||``, ``;`` or ``|``); anything else (redirects, subshells, substitutions) makes the
script "not plain", and a script that is not plain is never known-safe. This is a
conservative tokenizer, not a shell parser: when in doubt it answers "not safe".
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

_SAFE_EXECUTABLES = frozenset(
    {
        "cat", "cd", "cut", "echo", "expr", "false", "grep", "head", "id", "ls", "nl",
        "paste", "pwd", "rev", "seq", "stat", "tail", "tr", "true", "uname", "uniq", "wc",
        "which", "whoami", "numfmt", "tac",
    }
)
_OPERATORS = frozenset({"&&", "||", ";", "|"})
_UNSAFE_CHARACTERS = set("<>()$`&;|\n{}*?[]!")
_FIND_UNSAFE = frozenset(
    {"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fls", "-fprint", "-fprint0", "-fprintf"}
)


def split_plain_commands(argv: Sequence[str]) -> list[list[str]] | None:
    """The plain commands of ``argv`` (unwrapping ``bash -lc``), or None if not plain."""
    if len(argv) == 3 and argv[0].rsplit("/", 1)[-1] in ("bash", "zsh", "sh") and argv[1] in (
        "-lc",
        "-c",
    ):
        return _split_script(argv[2])
    return [list(argv)]


def _split_script(script: str) -> list[list[str]] | None:
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        return None
    commands: list[list[str]] = [[]]
    for token in tokens:
        if token in _OPERATORS:
            if not commands[-1]:
                return None
            commands.append([])
        elif _UNSAFE_CHARACTERS & set(token):
            return None
        else:
            commands[-1].append(token)
    if not commands[-1]:
        return None
    return commands


def is_known_safe(argv: Sequence[str]) -> bool:
    commands = split_plain_commands(argv)
    return commands is not None and all(_safe_command(command) for command in commands)


def _safe_command(command: list[str]) -> bool:
    program = command[0].rsplit("/", 1)[-1]
    arguments = command[1:]
    if program in _SAFE_EXECUTABLES:
        return True
    if program == "find":
        return not (_FIND_UNSAFE & set(arguments))
    if program == "base64":
        return not any(arg == "-o" or arg.startswith(("--output", "-o")) for arg in arguments)
    if program == "rg":
        return not any(
            arg.startswith(("--pre", "--hostname-bin")) or arg in ("--search-zip", "-z")
            for arg in arguments
        )
    if program == "sed":
        return (
            len(arguments) in (2, 3)
            and arguments[0] == "-n"
            and arguments[1].endswith("p")
            and arguments[1][:-1].replace(",", "").isdigit()
        )
    return False


def might_be_dangerous(argv: Sequence[str]) -> bool:
    commands = split_plain_commands(argv)
    if commands is None:
        commands = [list(argv)]
    return any(_dangerous(command) for command in commands)


def _dangerous(command: list[str]) -> bool:
    if not command:
        return False
    program = command[0].rsplit("/", 1)[-1]
    if program == "sudo":
        return _dangerous(command[1:])
    if program != "rm":
        return False
    for arg in command[1:]:
        if arg == "--":
            break
        if arg == "--force" or (arg.startswith("-") and not arg.startswith("--") and "f" in arg):
            return True
    return False
