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


def run_new_session(args: argparse.Namespace) -> int:
    from llmx.cli.tui.launch import run_live
    from llmx.cli.tui.session_start import Start

    # The root parser leaves the flags not given out: their defaults come from here.
    defaults = argparse.ArgumentParser(add_help=False)
    add_interactive_flags(defaults)
    full = defaults.parse_args([])
    for name, value in vars(args).items():
        setattr(full, name, value)
    return run_live(full, Start.new())
