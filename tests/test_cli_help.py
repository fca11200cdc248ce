"""Every command's ``--help`` works and opens with what the command does."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest
from support import PROJECT_ROOT

from llmx.cli.main import build_parser


def command_paths(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    """Every command and sub-command of ``parser`` by its words (aliases left out)."""
    found = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    found += command_paths(sub, (*path, name))
    return found


PATHS = command_paths(build_parser())


def test_the_tree_is_walked() -> None:
    assert ("sessions", "list") in PATHS
    assert ("otel", "export") in PATHS


@pytest.mark.parametrize("path", PATHS, ids=[" ".join(p) or "llmx" for p in PATHS])
def test_help_says_what_the_command_does(path: tuple[str, ...]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMX_")}
    result = subprocess.run([sys.executable, "-m", "llmx", *path, "--help"], capture_output=True,
                            text=True, env=env, cwd=PROJECT_ROOT, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    # argparse prints the usage, a blank line, then the description when there is one.
    after_usage = result.stdout.split("\n\n", 1)[1]
    first = after_usage.splitlines()[0]
    assert not first.startswith(("positional arguments:", "options:")), result.stdout
    assert first[:1].isupper(), first
