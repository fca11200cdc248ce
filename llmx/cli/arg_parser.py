"""The argument parser class every ``llmx`` command is built with.

It differs from ``argparse.ArgumentParser`` in one way only: its help formatter finds the
terminal width itself. argparse builds a formatter for every ``add_argument`` call (to
check the metavar), and the stock formatter imports ``shutil`` for the width, which
pulls in ``bz2``, ``lzma`` and ``zlib``: a few milliseconds of every command's start,
``llmx sandbox linux -- true`` included. The width is the one ``shutil`` would give.
"""

from __future__ import annotations

import argparse
import os
import sys

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


class LlmxArgumentParser(argparse.ArgumentParser):
    """Sub-commands inherit this class (argparse makes sub-parsers of the parent's type),
    so the whole tree formats help without ``shutil``."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", TerminalWidthFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
