"""``llmx sandbox``: run one command under the sandbox, or explain what the sandbox would be.

``llmx sandbox linux -- CMD`` (alias ``landlock``), ``llmx sandbox macos -- CMD`` (alias
``seatbelt``) and ``llmx sandbox explain [-- CMD]``. Any of them takes ``--explain``.
Nothing heavy is imported here, not even ``argparse``: ``llmx sandbox linux -- true`` is on
a hot path, and ``parse_simple`` reads its usual command lines without a parser.
"""

from __future__ import annotations

from types import SimpleNamespace

from llmx.cli.choices import LINUX_BACKENDS, SANDBOX_MODES

# Not ``typing.TYPE_CHECKING``: importing ``typing`` costs milliseconds on the start-up of
# ``llmx sandbox linux -- CMD``; mypy treats any constant of this name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any

# ``parse_simple``'s share of ``add_sandbox_options`` (a test checks they agree): each
# option spelling -> (attribute, how the option sets it).
_SWITCHES = {"--full-auto": "full_auto", "--dangerously-bypass-approvals-and-sandbox": "bypass",
             "--yolo": "bypass", "--explain": "explain", "--log-denials": "log_denials"}
_VALUES = {"-s": "sandbox_mode", "--sandbox": "sandbox_mode", "-P": "permission_profile",
           "--permission-profile": "permission_profile",
           "--permissions-profile": "permission_profile", "-p": "config_profile",
           "--profile": "config_profile", "-C": "cd", "--cd": "cd", "--backend": "backend"}
# Values an option of ``_VALUES`` accepts, where argparse checks them (``choices``).
_CHOICES = {"sandbox_mode": SANDBOX_MODES, "backend": LINUX_BACKENDS}
_LISTS = {"--add-dir": "add_dir", "-c": "config", "--config": "config"}

def add_sandbox_options(parser: argparse.ArgumentParser, *, platform: str) -> None:
    import argparse

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


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sandbox", help="run a command under the sandbox, or explain the sandbox"
    )
    sub = parser.add_subparsers(dest="sandbox_command", metavar="PLATFORM", required=True)
    for name, aliases, platform, help_text in (
        ("linux", ["landlock"], "linux", "run COMMAND confined by the Linux sandbox"),
        ("macos", ["seatbelt"], "macos", "run COMMAND under macOS Seatbelt (sandbox-exec)"),
        ("explain", [], "explain", "print the resolved policy, plan, env and backend"),
    ):
        add_sandbox_options(
            sub.add_parser(name, aliases=aliases, help=help_text), platform=platform
        )


def parse_simple(argv: Sequence[str]) -> SimpleNamespace | None:
    """``llmx sandbox linux|landlock [OPTIONS] -- COMMAND ...`` read as argparse reads it,
    without importing argparse (milliseconds of every confined command's start).

    Only exact option spellings, each value as a separate word not starting with ``-``
    (and ``-s``/``--backend`` with a known name), then ``--`` and a command; anything else
    (help, an abbreviation, ``--opt=value``, a bad value, no ``--``) returns ``None`` and goes
    through the parser, so its help and error messages are argparse's own.
    """
    if len(argv) < 4 or argv[0] != "sandbox" or argv[1] not in ("linux", "landlock"):
        return None
    parsed: dict[str, Any] = {
        "full_auto": False, "sandbox_mode": None, "permission_profile": None, "add_dir": [],
        "config": [], "config_profile": None, "cd": None, "bypass": False, "explain": False,
        "log_denials": False, "backend": None}
    index = 2
    while index < len(argv) and argv[index] != "--":
        word = argv[index]
        if word in _SWITCHES:
            parsed[_SWITCHES[word]] = True
            index += 1
            continue
        if index + 1 == len(argv) or argv[index + 1].startswith("-"):
            return None
        value = argv[index + 1]
        name = _VALUES.get(word)
        if name is not None and value in _CHOICES.get(name, (value,)):
            parsed[name] = value
        elif word in _LISTS:
            parsed[_LISTS[word]].append(value)
        else:
            return None
        index += 2
    if len(argv) - index < 2:
        return None
    return SimpleNamespace(command=list(argv[index:]), sandbox_command=argv[1], **parsed,
                           handler=_run, platform="linux")


def _run(args: argparse.Namespace) -> int:
    from llmx.cli.sandbox_run import run_sandbox_command

    return run_sandbox_command(args)
