"""``llmx --help`` and ``--version`` must not pay for heavy imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import PROJECT_ROOT
from support.waits import WAIT_SECONDS

from llmx import __version__
from llmx.cli.arg_parser import subcommands_of
from llmx.cli.main import (
    COMMAND_MODULES,
    build_parser,
    command_name,
    parser_for,
    requested_command,
)

HEAVY = ("httpx", "rich", "pydantic", "sqlite_utils", "msgspec", "aiofiles", "portalocker")


def _modules_loaded_by(args: list[str]) -> set[str]:
    code = (
        "import sys\n"
        "from llmx.cli.main import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        timeout=WAIT_SECONDS,
    ).stdout
    return set(out.split())


def test_version_prints_and_imports_nothing_heavy() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "llmx", "--version"], capture_output=True, text=True, check=True,
        timeout=WAIT_SECONDS,
    )
    assert result.stdout.startswith("llmx ")
    loaded = _modules_loaded_by(["--version"])
    assert not [m for m in HEAVY if m in loaded]


def test_help_imports_nothing_heavy() -> None:
    loaded = _modules_loaded_by(["--help"])
    assert not [m for m in HEAVY if m in loaded]


# What ``llmx sandbox linux -- true`` must not import: besides the heavy libraries, the
# standard modules its start-up target (about Codex's native binary) has no room for and
# that its work does not need (``typing`` and ``argparse`` it uses, and imports).
# ``typing`` (about 3 ms): the path's modules take their annotation types from
# ``collections.abc`` and the builtins, under ``from __future__ import annotations``.
# ``threading``: only a session's mask targets linger. The denial report's modules: only
# ``--log-denials`` waits for the command.
SANDBOX_PATH_FORBIDDEN = (
    *HEAVY, "dataclasses", "inspect", "tomllib", "json", "shutil", "asyncio",
    "subprocess", "datetime", "typing", "threading", "llmx.sandbox.linux.denials",
    "llmx.sandbox.linux.blocking", "llmx.cli.interactive",
)


def _importtime_modules(stderr: str) -> set[str]:
    # ``-X importtime`` lines: "import time: self | cumulative | <indent>name".
    return {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_sandbox_linux_true_imports_only_what_it_needs(tmp_path: Path) -> None:
    # The real command, exec and all: ``-X importtime`` reports every import on stderr
    # before the process becomes ``true``.
    home = tmp_path / "home"
    home.mkdir()
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "llmx", "sandbox", "linux", "--", "true"],
        cwd=tmp_path, env={**os.environ, "LLMX_HOME": str(home)},
        capture_output=True, text=True, check=False,
        timeout=WAIT_SECONDS,
    )
    loaded = _importtime_modules(result.stderr)
    assert "llmx.sandbox.linux.exec_in_place" in loaded
    assert [m for m in SANDBOX_PATH_FORBIDDEN if m in loaded] == []
    # Only the sandbox command's module is loaded, not every command's.
    assert sorted(m for m in loaded if m.startswith("llmx.cli.") and m.endswith("_cmd")) == [
        "llmx.cli.sandbox_cmd"
    ]


def test_each_command_module_registers_the_command_its_name_says() -> None:
    # ``main`` builds only the parser of the command named first; that relies on this.
    full = build_parser()
    registered = full._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for module in COMMAND_MODULES:
        name = command_name(module)
        assert name in registered, f"{module} does not register {name!r}"
        alone = build_parser(name)._subparsers._group_actions[0].choices  # type: ignore[union-attr]
        assert sorted(alone) == sorted(
            choice for choice, parser in registered.items() if parser is registered[name]
        )
        assert requested_command([name, "--help"]) == name
    assert requested_command(["--help"]) is None
    assert requested_command(["no-such-command"]) is None
    assert requested_command([]) is None


def test_a_command_line_builds_the_options_of_its_own_command_only() -> None:
    """``llmx sandbox linux -- true``: the root takes no options of its own (no word
    before the command could give one), ``linux`` gets its options when the line chooses
    it, ``macos`` and ``explain`` never get theirs. With a word before the command the
    root's options are there; the whole tree has every sub-command's."""
    argv = ["sandbox", "linux", "--", "true"]
    parser = parser_for(argv)
    assert [a.dest for a in parser._actions if a.option_strings] == ["help", "version"]
    platforms = subcommands_of(subcommands_of(parser).choices["sandbox"])
    assert platforms is not None

    def options(name: str) -> list[str]:
        return [a.dest for a in platforms.choices[name]._actions if a.option_strings]

    assert options("linux") == options("explain") == options("macos") == ["help"]
    args = parser.parse_args(argv)
    # (``command`` is the confined command's words: the sandbox's positional.)
    assert (args.command, args.sandbox_command, args.platform) == (["--", "true"], "linux", "linux")
    assert "full_auto" in options("linux")
    assert "backend" in options("linux")
    assert options("explain") == options("macos") == ["help"]
    with_global = parser_for(["-s", "read-only", *argv])
    assert "sandbox" in [a.dest for a in with_global._actions]
    whole = subcommands_of(subcommands_of(build_parser()).choices["sandbox"])
    assert whole is not None
    assert all("full_auto" in [a.dest for a in whole.choices[name]._actions]
               for name in ("linux", "macos", "explain"))


def test_version_needs_no_command_module() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "llmx", "--version"],
        capture_output=True, text=True, check=True,
        timeout=WAIT_SECONDS,
    )
    assert result.stdout == f"llmx {__version__}\n"
    loaded = _importtime_modules(result.stderr)
    assert [module for module in COMMAND_MODULES if module in loaded] == []


def test_only_the_interactive_session_loads_textual() -> None:
    """Textual is for the TUI only: ``exec`` and a printed replay never pay for it."""
    sample = str(PROJECT_ROOT / "examples" / "sample.rollout.jsonl")
    for args in (["exec", "--help"], ["replay", sample, "--color", "never"]):
        loaded = _modules_loaded_by(args)
        assert "llmx.cli.replay_cmd" in loaded or args[0] == "exec"
        assert not {name for name in loaded if name.split(".")[0] == "textual"}, args
        assert "llmx.cli.tui" not in loaded, args


def test_the_interactive_session_alone_builds_no_command_parser() -> None:
    """``llmx`` with no arguments parses nothing: the commands' modules (and argparse's
    help machinery for them) are not loaded before its first screen. Here stdin is not
    a terminal, so it stops with its one-line error where the screen would start."""
    code = (
        "import sys\n"
        "from llmx.cli.main import main\n"
        "code = main([])\n"
        "print(code, ' '.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        stdin=subprocess.DEVNULL, timeout=WAIT_SECONDS,
    )
    code_word, _, modules = result.stdout.partition(" ")
    assert code_word == "1"
    assert "needs a terminal" in result.stderr
    loaded = set(modules.split())
    assert "llmx.cli.tui.launch" in loaded
    assert [module for module in COMMAND_MODULES if module in loaded] == []
