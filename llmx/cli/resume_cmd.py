"""``llmx resume``: continue a recorded session interactively.

Without arguments it opens the picker over the session index; ``--last`` and a session
id (or name, or rollout path) skip the picker.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmx.cli.errors import CommandError
from llmx.cli.interactive import add_interactive_flags


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "resume", help="resume a recorded session interactively",
        description="Resume a recorded session in the interactive session: pick one, "
        "or name it.",
    )
    parser.add_argument("session", nargs="?", metavar="SESSION_ID",
                        help="a session id, a unique id prefix, a thread name or a rollout "
                        "path (none: pick one)")
    parser.add_argument("--last", action="store_true",
                        help="the most recent session of this directory, without the picker")
    parser.add_argument("--all", action="store_true",
                        help="sessions of every directory, not only this one")
    add_interactive_flags(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from llmx.cli.tui.launch import run_live
    from llmx.cli.tui.session_start import Start

    if args.last and args.session:
        raise CommandError("--last and SESSION_ID name two sessions",
                           "pass one of them", code=2)
    if args.last:
        start = Start.resume_last(all_folders=args.all)
    elif args.session:
        start = Start.resume_session(args.session)
    else:
        start = Start.pick(all_folders=args.all)
    return run_live(args, start)
