"""The argument parser class every ``llmx`` command is built with.

It differs from ``argparse.ArgumentParser`` in three ways. A refused command line is one
line in the form of every other error (``llmx <command>: <what> — see `... --help```),
not argparse's usage block. Arguments a sub-command does not know are refused by that
sub-command, so the line names it (argparse leaves them to the top parser, which calls
them ``llmx``'s). A sub-command's ``--help`` opens with what it does: its ``help`` text
when it has no description of its own. And its help formatter finds the terminal width
itself. argparse builds a formatter for every ``add_argument`` call (to
check the metavar), and the stock formatter imports ``shutil`` for the width, which
pulls in ``bz2``, ``lzma`` and ``zlib``: a few milliseconds of every command's start,
``llmx sandbox linux -- true`` included. The width is the one ``shutil`` would give.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from llmx.cli.errors import error_line

FALLBACK_COLUMNS = 80


def terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``: ``$COLUMNS`` when it is a positive
    number, else the width of the terminal on stdout, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        # stdout is None, closed, detached or not a terminal.
        columns = 0
    return columns or FALLBACK_COLUMNS


class TerminalWidthFormatter(argparse.HelpFormatter):
    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        if width is None:
            # argparse leaves two columns free, as it does with the shutil width.
            width = terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)


class SubcommandsAction(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Makes sub-parsers that say what they do and refuse what they do not know."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        help_text = kwargs.get("help")
        if "description" not in kwargs and isinstance(help_text, str):
            kwargs["description"] = help_text[:1].upper() + help_text[1:] + "."
        parser: argparse.ArgumentParser = super().add_parser(name, **kwargs)
        if isinstance(parser, LlmxArgumentParser):
            parser.is_subcommand = True
        return parser


class LlmxArgumentParser(argparse.ArgumentParser):
    """Sub-commands inherit this class (argparse makes sub-parsers of the parent's type),
    so the whole tree formats help without ``shutil`` and reports errors in one line."""

    is_subcommand = False

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", TerminalWidthFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.register("action", "parsers", SubcommandsAction)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras and self.is_subcommand:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("llmx").strip()
        self.exit(2, error_line(command, message, f"see `{self.prog} --help`") + "\n")
