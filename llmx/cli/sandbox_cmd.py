"""``llmx sandbox``: run one command under the sandbox, or explain what the sandbox would be.

``llmx sandbox linux -- CMD`` (alias ``landlock``), ``llmx sandbox macos -- CMD`` (alias
``seatbelt``) and ``llmx sandbox explain [-- CMD]``. Any of them takes ``--explain``.
Nothing heavy is imported here: ``llmx sandbox linux -- true`` is on a hot path, and the
work is imported by the handler.
"""

from __future__ import annotations

import argparse
import functools
import sys

from llmx.cli.arg_parser import SubcommandsAction
from llmx.cli.choices import LINUX_BACKENDS, SANDBOX_MODES


def add_sandbox_options(parser: argparse.ArgumentParser, *, platform: str) -> None:
    parser.add_argument(
        "--full-auto", action="store_true", help="workspace-write (the cwd, /tmp and $TMPDIR)"
    )
    parser.add_argument(
        "-s",
        "--sandbox",
        dest="sandbox_mode",
        metavar="MODE",
        choices=SANDBOX_MODES,
        help=" | ".join(SANDBOX_MODES),
    )
    parser.add_argument(
        "-P",
        "--permission-profile",
        "--permissions-profile",
        dest="permission_profile",
        metavar="PROFILE",
        help=":read-only, :workspace, :danger-full-access or a [permissions.NAME]",
    )
    parser.add_argument(
        "--add-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="another writable root (repeatable)",
    )
    parser.add_argument(
        "-c",
        "--config",
        action="append",
        default=[],
        metavar="key=value",
        help="override a config value (TOML; dotted keys), e.g. -c sandbox_mode=workspace-write",
    )
    parser.add_argument(
        "-p",
        "--profile",
        dest="config_profile",
        metavar="NAME",
        help="use the [profiles.NAME] config profile",
    )
    parser.add_argument("-C", "--cd", dest="cd", metavar="DIR", help="working root (default: cwd)")
    parser.add_argument(
        "--dangerously-bypass-approvals-and-sandbox",
        "--yolo",
        dest="bypass",
        action="store_true",
        help="run without any sandbox",
    )
    parser.add_argument("--explain", action="store_true", help="print the plan instead of running")
    if platform in ("linux", "explain"):
        parser.add_argument(
            "--backend",
            metavar="NAME",
            choices=LINUX_BACKENDS,
            help="enforce with this Linux backend only (" + " | ".join(LINUX_BACKENDS)
            + "); default: the first available one that can enforce the plan",
        )
    if platform in ("linux", "macos"):
        parser.add_argument(
            "--log-denials",
            action="store_true",
            help="after the command, list what the sandbox refused",
        )
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")
    parser.set_defaults(handler=_run, platform=platform)


# The words that may follow ``sandbox`` (with ``-h``); anything else is a command to run.
_PLATFORM_WORDS = frozenset({"linux", "landlock", "macos", "seatbelt", "explain",
                             "-h", "--help"})


def with_platform(words: list[str]) -> list[str]:
    """The words after ``sandbox``, with this system's platform put first when they name
    none: Codex 0.169 takes ``codex sandbox [OPTIONS] COMMAND`` for its Linux sandbox, so
    ``llmx sandbox -- true`` is ``llmx sandbox linux -- true`` (``macos`` on macOS)."""
    if not words or words[0] in _PLATFORM_WORDS:
        return words
    return ["macos" if sys.platform == "darwin" else "linux", *words]


def add_parser(subparsers: SubcommandsAction) -> None:
    parser = subparsers.add_parser(
        "sandbox", help="run a command under the sandbox, or explain the sandbox"
    )
    sub = parser.add_subparsers(dest="sandbox_command", metavar="PLATFORM", required=True)
    for name, aliases, platform, help_text in (
        ("linux", ["landlock"], "linux", "run COMMAND confined by the Linux sandbox"),
        ("macos", ["seatbelt"], "macos", "run COMMAND under macOS Seatbelt (sandbox-exec)"),
        ("explain", [], "explain", "print the resolved policy, plan, env and backend"),
    ):
        # Only the platform the command line names gets its options (see ``arguments``).
        sub.add_parser(name, aliases=aliases, help=help_text,
                       arguments=functools.partial(add_sandbox_options, platform=platform))


def _run(args: argparse.Namespace) -> int:
    from llmx.cli.sandbox_run import run_sandbox_command

    return run_sandbox_command(args)
