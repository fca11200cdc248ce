"""The ``llmx`` entry point: builds the argument parser from the command modules.

``llmx COMMAND ...`` builds only what that command line needs (``parser_for``): it
imports and registers only that command's module, adds the options of only the
sub-command chosen (``sandbox linux``, not ``macos`` and ``explain`` too), and the root's
own options only when words come before the command. So a short command
(``llmx sandbox linux -- true``) does not pay for the parsers and imports of all the
others. ``llmx``, ``llmx --help`` and anything that does not start with a known command
name get the whole parser, so the help lists every command and a misspelt one gets
argparse's "invalid choice" message.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from llmx import __version__

# Each module registers one top-level command, named as the module without its
# ``_cmd`` suffix (``llmx.cli.sandbox_cmd`` registers ``sandbox``; a test checks it).
# They import heavy dependencies inside their handlers only, so building the parser
# stays cheap.
COMMAND_MODULES: tuple[str, ...] = (
    # In the order ``llmx --help`` lists them: running, then reading the log, then tools.
    "llmx.cli.exec_cmd",
    "llmx.cli.resume_cmd",
    "llmx.cli.app_server_cmd",
    "llmx.cli.fork_cmd",
    "llmx.cli.rollback_cmd",
    "llmx.cli.replay_cmd",
    "llmx.cli.inspect_cmd",
    "llmx.cli.sessions_cmd",
    "llmx.cli.history_cmd",
    "llmx.cli.otel_cmd",
    "llmx.cli.mcp_cmd",
    "llmx.cli.mcp_server_cmd",
    "llmx.cli.rollout_cmd",
    "llmx.cli.sandbox_cmd",
    "llmx.cli.debug_cmd",
)

DESCRIPTION = ("Event-sourced coding agent: every run is an append-only, resumable log. "
               "With no COMMAND: the interactive session in this directory.")


def command_name(module: str) -> str:
    """The top-level command ``module`` registers: ``llmx.cli.sandbox_cmd`` -> ``sandbox``,
    ``llmx.cli.app_server_cmd`` -> ``app-server``."""
    return module.rpartition(".")[2].removesuffix("_cmd").replace("_", "-")


_GLOBAL_CONFIG = ("-c", "--config")


def command_position(argv: Sequence[str]) -> int:
    """Where the command word is: after the global ``-c KEY=VALUE`` pairs, if any (Codex
    takes ``codex -c k=v app-server``, and its SDK launches it so)."""
    position = 0
    while position < len(argv):
        word = argv[position]
        if word in _GLOBAL_CONFIG:
            position += 2
        elif word.startswith("--config=") or (word.startswith("-c") and len(word) > 2):
            position += 1
        else:
            break
    return position


def requested_command(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names (after any global ``-c`` pairs), if it is one of ours;
    ``None`` sends the arguments through the whole parser (no command, a typo)."""
    position = command_position(argv)
    if position >= len(argv):
        return None
    word = argv[position]
    return word if any(command_name(m) == word for m in COMMAND_MODULES) else None


def parser_for(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser ``main`` reads ``argv`` with: the whole tree when ``argv`` names no
    command of ours; else that command's alone, with its sub-commands' options added only
    for the one chosen, and the root's own options only when words precede the command
    (nothing else could give them)."""
    command = requested_command(argv)
    if command is None:
        return build_parser()
    return build_parser(command, root_options=command_position(argv) > 0)


def build_parser(only: str | None = None, *, root_options: bool = True) -> argparse.ArgumentParser:
    """The parser of every command, or of the command ``only`` alone (the same parser
    as far as the arguments of that command go), its sub-commands' options added when
    the command line chooses one. ``root_options``: the options the root takes before a
    command (without them, words before the command are refused)."""
    from llmx.cli.arg_parser import LlmxArgumentParser

    parser = LlmxArgumentParser(prog="llmx", description=DESCRIPTION, deferred=only is not None)
    parser.add_argument("--version", action="version", version=f"llmx {__version__}")
    if root_options:
        # ``llmx`` with no command is the interactive session: it takes exec's thread
        # flags. Given before a command they are that command's, as if they followed its
        # name (Codex takes ``codex -c k=v app-server``, and its SDK launches it so); a
        # command without such an option refuses it.
        from llmx.cli.interactive import add_interactive_flags

        first = len(parser._actions)
        add_interactive_flags(parser, absent_unless_given=True)
        parser.carried = tuple(parser._actions[first:])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        if only is None or command_name(name) == only:
            # ``__import__`` rather than ``importlib``: one module less to load, and
            # ``python -X importtime`` sees the import.
            __import__(name)
            sys.modules[name].add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in == ["--version"]:
        # What argparse's version action prints, without building any parser.
        sys.stdout.write(f"llmx {__version__}\n")
        return 0
    if not args_in:
        # ``llmx`` alone, the interactive session: no flag to parse, so none of the
        # commands' parsers is built (their imports would delay its first screen).
        args = argparse.Namespace(command=None)
    else:
        if requested_command(args_in) == "sandbox":
            from llmx.cli.sandbox_cmd import with_platform

            at = command_position(args_in) + 1
            args_in[at:] = with_platform(args_in[at:])
        args = parser_for(args_in).parse_args(args_in)
    handler = getattr(args, "handler", None)
    if handler is None and getattr(args, "command", None) is None:
        from llmx.cli.interactive import run_new_session

        handler = run_new_session
    if handler is None:
        # The help of the whole program, even when only one command was built.
        build_parser().print_help(sys.stderr)
        return 2
    from llmx.cli.errors import CommandError, os_error, report_error

    if command_label(args).partition(" ")[0] != "sandbox":  # a confined command needs none
        from llmx.events.home import HOME_ENV, missing_configured_home

        missing = missing_configured_home()
        if missing is not None:
            return report_error(command_label(args), CommandError(
                f"{HOME_ENV} points to {missing}, which does not exist",
                f"create it (mkdir -p {missing}) or unset {HOME_ENV} to use ~/.llmx"))
    try:
        code: int = handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``llmx replay ... | head``); that is not an error of ours.
        sys.stderr.close()
        return 0
    except CommandError as error:
        return report_error(command_label(args), error)
    except OSError as error:
        # A file-system failure no handler foresaw still names its path, in one line.
        return report_error(command_label(args), os_error(error))
    except RecursionError:
        # Readers refuse JSON too deep to decode; this is data that decoded but nests too
        # deeply for what the command then does with it.
        return report_error(command_label(args), CommandError(
            "a JSON value nests too deeply to process",
            "`llmx rollout check` names rollout lines nested more than 128 levels",
        ))
    return code


def command_label(args: object) -> str:
    """The words of the command ``args`` ran, for its error lines: ``sessions list``."""
    command = getattr(args, "command", None)
    if not isinstance(command, str):
        # ``sandbox`` has a positional of that name (the confined command's words).
        names = (command_name(module) for module in COMMAND_MODULES)
        command = next((name for name in names if hasattr(args, f"{name}_command")), "")
    sub = getattr(args, f"{command}_command", None)
    return f"{command} {sub}" if sub else command
