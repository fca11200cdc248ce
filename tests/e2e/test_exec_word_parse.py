"""``llmx exec``'s words: what they invoke, and the flags given among them."""

from __future__ import annotations

import argparse

import pytest

from llmx.cli import exec_cmd
from llmx.cli.errors import CommandError


def _namespace(words: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="llmx")
    exec_cmd.add_parser(parser.add_subparsers())
    return parser.parse_args(["exec", *words])


# The words after ``exec``, what they invoke (resume, session, prompt), and the flags
# among them that the second parse sets.
CASES = [
    (["say hi"], (False, None, "say hi"), {}),
    ([], (False, None, None), {}),
    (["-"], (False, None, "-"), {}),
    (["resume", "--last", "hi"], (True, None, "hi"), {"last": True}),
    (["resume", "--last", "--all", "hi"], (True, None, "hi"), {"last": True, "all": True}),
    (["resume", "hi", "--last"], (True, None, "hi"), {"last": True}),
    (["resume", "0199a213-81c0-7800-8aa1-bbab2a035a53", "hi"],
     (True, "0199a213-81c0-7800-8aa1-bbab2a035a53", "hi"), {}),
    (["say hi", "--json"], (False, None, "say hi"), {"json": True}),
    (["resume", "--last", "hi", "--json"], (True, None, "hi"), {"last": True, "json": True}),
    (["resume", "--last", "-c", 'model="o3"', "hi"], (True, None, "hi"),
     {"last": True, "config": ['model="o3"']}),
    (["hi", "-m", "mock-model", "--skip-git-repo-check"], (False, None, "hi"),
     {"model": "mock-model", "skip_git_repo_check": True}),
]


@pytest.mark.parametrize(("words", "invocation", "flags"), CASES,
                         ids=lambda case: " ".join(case) if isinstance(case, list) else "")
def test_the_flags_among_the_words_are_parsed(
    words: list[str], invocation: tuple[bool, str | None, str | None], flags: dict[str, object]
) -> None:
    args = _namespace(words)
    assert tuple(exec_cmd.parse_words(args)) == invocation
    defaults = {"last": False, "all": False, "json": False, "config": [], "model": None,
                "skip_git_repo_check": False}
    for name, default in defaults.items():
        assert getattr(args, name) == flags.get(name, default), name


def test_two_unquoted_words_are_refused_with_a_hint() -> None:
    with pytest.raises(CommandError, match="quote the prompt as one argument"):
        exec_cmd.parse_words(_namespace(["two", "words"]))


def test_exec_resume_help_prints_the_resume_usage() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "llmx", "exec", "resume", "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {exec_cmd.RESUME_USAGE}\n")
    for flag in ("SESSION_ID", "--last", "--all", "--ephemeral", "--json"):
        assert flag in result.stdout
    assert result.stderr == ""
