"""The argument parser class every ``llmx`` command is built with.

It differs from ``argparse.ArgumentParser`` in these ways. A refused command line is one
line in the form of every other error (``llmx <command>: <what> — see `... --help```),
not argparse's usage block. Arguments a sub-command does not know are refused by that
sub-command, so the line names it (argparse leaves them to the top parser, which calls
them ``llmx``'s). A sub-command's ``--help`` opens with what it does: its ``help`` text
when it has no description of its own. The root's options given before a command are
parsed by that command as its own (argparse would let the command's defaults overwrite
them, or keep them where the command never looks). And its help formatter finds the
terminal width itself, once per process. argparse builds a formatter for every
``add_argument`` call (to check the metavar), and the stock formatter imports ``shutil``
for the width, which pulls in ``bz2``, ``lzma`` and ``zlib``: a few milliseconds of every
command's start, ``llmx sandbox linux -- true`` included. The width is the one ``shutil``
would give.

A sub-command's own arguments can wait until the command line chooses it
(``add_parser(name, arguments=...)``): ``llmx sandbox linux -- true`` then builds the
options of ``linux`` and not those of ``macos`` and ``explain``. The whole tree (for
``llmx --help`` and for walking the commands) is built with nothing waiting.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Sequence

from llmx.cli.errors import error_line

FALLBACK_COLUMNS = 80


@functools.cache
def terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``: ``$COLUMNS`` when it is a positive
    number, else the width of the terminal on stdout, else 80. Asked once per process:
    every formatter of every argument uses it."""
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
    """Makes sub-parsers that say what they do and refuse what they do not know, and
    hands the options given before a command to that command (see :func:`carry`)."""

    # Options of an outer parser on their way to the command below this one
    # (``llmx -s MODE sandbox explain``: ``sandbox`` passes them on to ``explain``).
    handed_down: list[tuple[argparse.Action, object]] | None = None
    # Whether the sub-commands' ``arguments`` wait until one is chosen.
    deferred = False

    def add_parser(self, name: str, *,
                   arguments: Callable[[argparse.ArgumentParser], None] | None = None,
                   **kwargs: object) -> argparse.ArgumentParser:
        """argparse's ``add_parser``; ``arguments`` adds the sub-command's own arguments,
        at once or, in a deferred tree, when the command line chooses it."""
        help_text = kwargs.get("help")
        if "description" not in kwargs and isinstance(help_text, str):
            kwargs["description"] = help_text[:1].upper() + help_text[1:] + "."
        if self.deferred:
            kwargs["deferred"] = True
        # argparse's keywords, passed on as given (typeshed types them one by one).
        parser: argparse.ArgumentParser = super().add_parser(name, **kwargs)  # type: ignore[arg-type]
        if isinstance(parser, LlmxArgumentParser):
            parser.is_subcommand = True
            if arguments is not None and self.deferred:
                parser.pending_arguments = arguments
                return parser
        if arguments is not None:
            arguments(parser)
        return parser

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[object] | None,
                 option_string: str | None = None) -> None:
        # argparse gives a sub-commands action the words from the command's name on.
        assert isinstance(values, list)
        given = self.handed_down or []
        self.handed_down = None
        if isinstance(parser, LlmxArgumentParser):
            given = [*given, *parser.take_carried(namespace)]
        chosen = self._name_parser_map.get(str(values[0]))
        if isinstance(chosen, LlmxArgumentParser):
            chosen.add_pending_arguments()
        if given and chosen is not None:
            inner = subcommands_of(chosen)
            if inner is not None:
                inner.handed_down = given
            else:
                values = [values[0], *carry(chosen, given), *values[1:]]
        super().__call__(parser, namespace, values, option_string)


class DeferredSubcommandsAction(SubcommandsAction):
    deferred = True


def subcommands_of(parser: argparse.ArgumentParser) -> SubcommandsAction | None:
    return next((action for action in parser._actions
                 if isinstance(action, SubcommandsAction)), None)


def carry(command: argparse.ArgumentParser,
          given: list[tuple[argparse.Action, object]]) -> list[str]:
    """The words that give ``command`` the options given before it, placed first among
    its own so that it parses them exactly as if they followed its name (an option given
    again after the name still wins, ``-c`` pairs keep their order); refused in the one
    line if ``command`` has no such option. An option counts as the command's own only
    when it has every spelling of the global one (the same option, not a homonym)."""
    known = command._option_string_actions
    words: list[str] = []
    for action, value in given:
        if not all(spelling in known for spelling in action.option_strings):
            command.error(f"{'/'.join(action.option_strings)} does not apply to this command")
        spelling = action.option_strings[-1]
        if action.nargs == 0:
            words.append(spelling)
        else:
            # Joined with "=": a value starting with "-" stays a value.
            items = value if isinstance(value, list) else [value]
            words.extend(f"{spelling}={item}" for item in items)
    return words


class LlmxArgumentParser(argparse.ArgumentParser):
    """Sub-commands inherit this class (argparse makes sub-parsers of the parent's type),
    so the whole tree formats help without ``shutil`` and reports errors in one line."""

    is_subcommand = False
    # Options this parser takes before its command and hands to the command (the root's
    # global options); each is absent from the namespace unless given.
    carried: tuple[argparse.Action, ...] = ()
    # In a deferred tree a sub-command's arguments are added once it is chosen; until
    # then they wait here.
    pending_arguments: Callable[[argparse.ArgumentParser], None] | None = None

    def add_pending_arguments(self) -> None:
        arguments, self.pending_arguments = self.pending_arguments, None
        if arguments is not None:
            arguments(self)

    def take_carried(self, namespace: argparse.Namespace) -> list[tuple[argparse.Action, object]]:
        """The carried options given, with their values, removed from ``namespace``: the
        command parses them again as its own."""
        given = []
        for action in self.carried:
            if hasattr(namespace, action.dest):
                given.append((action, getattr(namespace, action.dest)))
                delattr(namespace, action.dest)
        return given

    def __init__(self, *args: object, deferred: bool = False, **kwargs: object) -> None:
        """``deferred``: the sub-commands of this parser, and theirs, get their own
        arguments only when the command line chooses them (``SubcommandsAction.add_parser``)."""
        kwargs.setdefault("formatter_class", TerminalWidthFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.register("action", "parsers",
                      DeferredSubcommandsAction if deferred else SubcommandsAction)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras and self.is_subcommand:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras

    # Never returns (``exit``). argparse declares it ``NoReturn``; naming that type here
    # would import ``typing`` into every command's start-up (about 3 ms), for this one
    # annotation: the override says ``None`` instead.
    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.removeprefix("llmx").strip()
        self.exit(2, error_line(command, message, f"see `{self.prog} --help`") + "\n")
