"""``parse_simple`` reads a sandbox command line as argparse does, or not at all."""

from __future__ import annotations

import contextlib
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from llmx.cli.main import build_parser, parsed_without_argparse
from llmx.cli.sandbox_cmd import _LISTS, _SWITCHES, _VALUES, parse_simple

WORDS = (
    *_SWITCHES, *_VALUES, *_LISTS, "--", "-", "--full", "--sandbox=read-only", "-sread-only",
    "--help", "-h", "read-only", "workspace-write", "danger-full-access", "sideways", "",
    "a=1", "model=o3", "/tmp", "dev", "true", "sh", "-1", "-x", "linux", "explain",
    "namespaces", "bubblewrap", "landlock",
)


def _argparse(argv: list[str]) -> dict[str, object] | None:
    """What the real parser makes of ``argv``, or ``None`` when it exits (help, error)."""
    sink = io.StringIO()
    with contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
        try:
            return vars(build_parser("sandbox").parse_args(argv))
        except SystemExit:
            return None


@settings(max_examples=400, deadline=None)
@given(platform=st.sampled_from(["linux", "landlock", "macos", "explain"]),
       words=st.lists(st.sampled_from(WORDS), max_size=8))
def test_simple_parse_agrees_with_argparse_whenever_it_answers(
        platform: str, words: list[str]) -> None:
    argv = ["sandbox", platform, *words]
    simple = parse_simple(argv)
    if simple is not None:
        assert vars(simple) == _argparse(argv), argv


def test_the_usual_lines_skip_argparse() -> None:
    for argv in (
        ["sandbox", "linux", "--", "true"],
        ["sandbox", "landlock", "--full-auto", "--", "sh", "-c", "exit 3"],
        ["sandbox", "linux", "-s", "workspace-write", "--add-dir", "/tmp", "-c", "a=1",
         "-c", "b=2", "-C", "/", "--log-denials", "--", "--", "-x"],
        ["sandbox", "linux", "-P", ":workspace", "-p", "dev", "--yolo", "--explain", "--",
         "true"],
        ["sandbox", "linux", "--backend", "bubblewrap", "--", "true"],
    ):
        simple = parsed_without_argparse("sandbox", argv)
        assert simple is not None, argv
        assert vars(simple) == _argparse(argv), argv


def test_help_errors_and_unusual_forms_go_to_argparse() -> None:
    for argv in (
        ["sandbox", "linux", "--help"],
        ["sandbox", "linux", "--", "--help"][:3],
        ["sandbox", "linux", "-s", "sideways", "--", "true"],
        ["sandbox", "linux", "--sandbox=read-only", "--", "true"],
        ["sandbox", "linux", "--full", "--", "true"],
        ["sandbox", "linux", "true"],
        ["sandbox", "macos", "--", "true"],
        ["sandbox", "explain", "--", "true"],
        ["sandbox", "linux", "-C", "-x", "--", "true"],
        ["sandbox", "linux", "--backend", "chroot", "--", "true"],
    ):
        assert parse_simple(argv) is None, argv


def test_every_option_of_the_parser_is_known_or_sent_to_argparse() -> None:
    # An option added to ``add_sandbox_options`` but not to ``parse_simple``'s tables makes
    # the simple parse return None for it (the catch-all), never a wrong answer; this
    # keeps the tables from naming options the parser does not have.
    parser = build_parser("sandbox")
    sandbox = parser._subparsers._group_actions[0].choices["sandbox"]  # type: ignore[union-attr]
    linux = sandbox._subparsers._group_actions[0].choices["linux"]  # type: ignore[union-attr]
    spellings = {s for action in linux._actions for s in action.option_strings}
    assert set(_SWITCHES) | set(_VALUES) | set(_LISTS) <= spellings
