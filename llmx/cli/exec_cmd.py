"""``llmx exec``: run one turn non-interactively (and ``exec resume``)."""

from __future__ import annotations

import argparse
from typing import Any, NamedTuple

from llmx.cli.choices import REVIEW_DECISIONS
from llmx.cli.errors import CommandError
from llmx.cli.session_flags import add_session_flags


def _add_shared(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", "--experimental-json", dest="json", action="store_true",
                        help="print Codex's JSONL thread events on stdout")
    parser.add_argument("-o", "--output-last-message", metavar="FILE",
                        help="write the final agent message to FILE")
    parser.add_argument("--output-schema", metavar="FILE",
                        help="JSON Schema the final answer must follow")
    parser.add_argument("--ephemeral", action="store_true",
                        help="write nothing to disk: no rollout, no history")
    parser.add_argument("--color", choices=("always", "never", "auto"), default="auto")
    parser.add_argument("--skip-git-repo-check", action="store_true",
                        help="allow running outside a git repository")
    add_session_flags(parser)
    parser.add_argument("--thread-source", metavar="SOURCE",
                        help="what started the thread, recorded in its session_meta "
                        "(new threads only)")
    # Codex's access programs for cyber-security work on OpenAI's models. llmx sends no
    # such field to a provider: the flag is accepted (the TypeScript SDK passes it) and
    # has no effect.
    parser.add_argument("--cyber-access-program", metavar="PROGRAM",
                        choices=("standard", "daybreak_blue", "daybreak_red"),
                        help="accepted for Codex compatibility; has no effect")
    parser.add_argument("--approval-decision", choices=REVIEW_DECISIONS, action="append",
                        default=[], metavar="DECISION",
                        help="answer approval requests in order with these decisions, "
                        "before anyone is asked (repeatable); when they run out exec asks "
                        "on a terminal, and elsewhere denies")


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "exec", help="run the agent non-interactively",
        usage=f"llmx exec [OPTIONS] [PROMPT|-]\n       {RESUME_USAGE}",
        description="Run one turn non-interactively; every run is a resumable rollout.",
    )
    _add_shared(parser)
    parser.add_argument("--last", action="store_true",
                        help="resume: the most recent session")
    parser.add_argument("--all", action="store_true",
                        help="resume --last: do not limit to sessions of this directory")
    # ``resume`` is a word among the positionals rather than an argparse sub-command: a
    # sub-command parser would refuse ``llmx exec "say hi"`` as an unknown command. The
    # words (flags after the prompt included) are parsed again by ``reparse_words``.
    parser.add_argument("words", nargs=argparse.REMAINDER, metavar="PROMPT",
                        help="the prompt ('-' or none: read it from stdin), or "
                        "'resume [SESSION_ID] [PROMPT]'")
    parser.set_defaults(handler=_run)


RESUME_USAGE = "llmx exec [OPTIONS] resume (--last [--all] | SESSION_ID) [PROMPT|-]"


def reparse_words(args: argparse.Namespace) -> None:
    """Parse the flags among the words (``resume --last PROMPT``, ``PROMPT --json``)."""
    if "-h" in args.words or "--help" in args.words:
        _word_help(args.words)
    reparse_words_with_argparse(args)


def _word_help(words: list[str]) -> None:
    """``llmx exec resume --help`` (and ``--help`` after a prompt): print help, exit 0."""
    resuming = bool(words) and words[0] == "resume"
    parser = argparse.ArgumentParser(
        prog="llmx exec resume" if resuming else "llmx exec",
        usage=RESUME_USAGE if resuming else None,
        description=(
            "Run one more turn of a recorded session: its rollout is folded back into the "
            "model context and the new turn is appended to the same file."
            if resuming else "Run one turn non-interactively; every run is a resumable rollout."
        ),
    )
    if resuming:
        parser.add_argument("session_id", nargs="?", metavar="SESSION_ID",
                            help="a session id, a unique id prefix or a thread name")
    parser.add_argument("prompt", nargs="?", metavar="PROMPT",
                        help="the prompt ('-' or none: read it from stdin)")
    parser.add_argument("--last", action="store_true",
                        help="resume the most recent session of this directory")
    parser.add_argument("--all", action="store_true",
                        help="with --last: the most recent session of any directory")
    _add_shared(parser)
    parser.parse_args(["--help"])


def reparse_words_with_argparse(args: argparse.Namespace) -> None:
    parser = argparse.ArgumentParser(prog="llmx exec", add_help=False)
    _add_shared(parser)
    parser.add_argument("--last", action="store_true")
    parser.add_argument("--all", action="store_true")
    parser.add_argument("words", nargs="*")
    words = list(args.words)
    del args.words
    for name in ("config", "image", "add_dir", "approval_decision"):
        setattr(args, name, list(getattr(args, name)))
    parser.parse_intermixed_args(words, namespace=args)


class Invocation(NamedTuple):
    """What the words say: a new run, or ``resume`` (of ``session`` or the latest)."""

    resume: bool
    session: str | None
    prompt: str | None


def parse_words(args: argparse.Namespace) -> Invocation:
    reparse_words(args)
    words: list[str] = list(args.words)
    if not words or words[0] != "resume":
        if len(words) > 1:
            raise CommandError(
                f"unexpected argument {words[1]!r}", "quote the prompt as one argument", code=2
            )
        if args.last or args.all:
            raise CommandError("--last and --all need resume", "use 'llmx exec resume --last'",
                               code=2)
        return Invocation(False, None, words[0] if words else None)
    rest = words[1:]
    if args.last:
        if len(rest) > 1:
            raise CommandError("resume --last takes at most one argument",
                               "pass the prompt as one quoted argument", code=2)
        return Invocation(True, None, rest[0] if rest else None)
    if not rest:
        raise CommandError("resume needs a session", "pass a SESSION_ID or --last", code=2)
    if len(rest) > 2:
        raise CommandError(f"unexpected argument {rest[2]!r} after resume",
                           "quote the prompt as one argument", code=2)
    return Invocation(True, rest[0], rest[1] if len(rest) > 1 else None)


def _run(args: argparse.Namespace) -> int:
    invocation = parse_words(args)
    from llmx.cli.exec_run import run_exec

    return run_exec(args, invocation.resume, invocation.session, invocation.prompt)
