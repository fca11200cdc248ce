"""``llmx`` with no command: the interactive session, in a new thread of the cwd.

Its flags are exec's thread flags (``llmx.cli.session_flags``) plus the TUI's own; the
session itself is ``llmx.cli.tui``, imported only when it runs.
"""

from __future__ import annotations

import argparse

from llmx.cli.session_flags import add_session_flags


def add_interactive_flags(parser: argparse.ArgumentParser, *,
                          absent_unless_given: bool = False) -> None:
    """``absent_unless_given``: the flags are left out of the namespace unless given (on
    the root parser, so that every command's arguments read the same as without them)."""
    first = len(parser._actions)
    add_session_flags(parser)
    parser.add_argument("--no-alt-screen", action="store_true",
                        help="run inline, keeping the terminal's scrollback")
    if absent_unless_given:
        for action in parser._actions[first:]:
            action.default = argparse.SUPPRESS


def session_args(args: argparse.Namespace) -> argparse.Namespace:
    """``args`` with the defaults of the flags not given (the root parser leaves those
    out of its namespace)."""
    defaults = argparse.ArgumentParser(add_help=False)
    add_interactive_flags(defaults)
    full = defaults.parse_args([])
    for name, value in vars(args).items():
        setattr(full, name, value)
    return full


def run_new_session(args: argparse.Namespace) -> int:
    from llmx.cli.tui.launch import run_live
    from llmx.cli.tui.session_start import Start

    return run_live(session_args(args), Start.new())
