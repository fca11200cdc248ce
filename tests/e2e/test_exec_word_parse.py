"""``llmx exec``'s words: the parse without a second parser equals argparse's, word for word."""

from __future__ import annotations

import argparse
import copy

import pytest

from llmx.cli import exec_cmd


def _namespace(words: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="llmx")
    exec_cmd.add_parser(parser.add_subparsers())
    return parser.parse_args(["exec", *words])


SIMPLE = [
    ["say hi"],
    [],
    ["-"],
    [""],
    ["resume", "--last", "hi"],
    ["resume", "--last"],
    ["resume", "--last", "--all", "hi"],
    ["resume", "hi", "--last"],
    ["resume", "--all", "--last", "-"],
    ["resume", "0199a213-81c0-7800-8aa1-bbab2a035a53", "hi"],
    ["two", "words"],
    ["--last", "--last", "resume"],
]

FLAGGED = [
    ["say hi", "--json"],
    ["resume", "--last", "hi", "--json"],
    ["resume", "--last", "-c", "model=\"o3\"", "hi"],
    ["resume", "--la", "hi"],
    ["--", "hi"],
    ["hi", "-m", "mock-model", "--skip-git-repo-check"],
]


@pytest.mark.parametrize("words", SIMPLE + FLAGGED, ids=lambda words: " ".join(words) or "none")
def test_the_words_parse_as_argparse_parses_them(words: list[str]) -> None:
    args = _namespace(words)
    expected = copy.deepcopy(args)
    exec_cmd.reparse_words_with_argparse(expected)
    exec_cmd.reparse_words(args)
    assert vars(args) == vars(expected)


@pytest.mark.parametrize("words", SIMPLE, ids=lambda words: " ".join(words) or "none")
def test_plain_words_and_resume_last_take_the_short_path(words: list[str]) -> None:
    args = _namespace(words)
    assert exec_cmd.reparse_simple_words(args)


@pytest.mark.parametrize("words", FLAGGED, ids=lambda words: " ".join(words))
def test_other_flags_are_left_to_argparse(words: list[str]) -> None:
    args = _namespace(words)
    before = vars(copy.deepcopy(args))
    assert not exec_cmd.reparse_simple_words(args)
    assert vars(args) == before


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
