"""Every command reports a bad input in one form: ``llmx <command>: <what> — <what to do>``.

Real subprocesses on a temporary home; each case is an input a user can type.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import PROJECT_ROOT

ONE_LINE = re.compile(r"^llmx (?P<command>[a-z]+(?: [a-z]+)?): (?P<what>.+) — (?P<todo>.+)$")


def run_llmx(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMX_", "OPENAI_"))}
    env["LLMX_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "llmx", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or PROJECT_ROOT,
        timeout=60,
        check=False,
    )


def assert_one_error_line(result: subprocess.CompletedProcess[str], command: str) -> str:
    """The error line of ``result``, checked to be the only stderr line, in the form."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    match = ONE_LINE.match(lines[0])
    assert match is not None, lines[0]
    assert match["command"] == command, lines[0]
    return lines[0]


CASES = [
    (["rollout", "check", "{tmp}/missing.jsonl"], "rollout check", "missing.jsonl"),
    (["sessions", "show", "0000dead"], "sessions show", "0000dead"),
    (["sessions", "list", "--cursor", "yesterday"], "sessions list", "yesterday"),
    (["sessions", "delete", "0000dead", "--yes"], "sessions delete", "0000dead"),
    (["inspect", "{tmp}/missing.jsonl"], "inspect", "missing.jsonl"),
    (["replay", "0000dead"], "replay", "0000dead"),
    (["exec", "-C", "{tmp}/nowhere", "hi"], "exec", "nowhere"),
    (["exec", "--skip-git-repo-check", "resume", "0000dead", "hi"], "exec", "0000dead"),
    (["exec", "--last", "hi"], "exec", "--last"),
    # argparse's own refusals, reported by the command they belong to, in the same form.
    (["exec", "--bogus", "hi"], "exec", "--bogus"),
    (["exec", "-s", "sideways", "hi"], "exec", "sideways"),
    (["sessions", "list", "--bogus"], "sessions list", "--bogus"),
    (["sessions", "show"], "sessions show", "required: ID"),
    (["history", "--limit", "x"], "history", "'x'"),
    (["sandbox", "explain", "--bogus"], "sandbox explain", "--bogus"),
]


@pytest.mark.parametrize(("argv", "command", "named"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_inputs_get_one_line_in_the_form(
    tmp_path: Path, argv: list[str], command: str, named: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    args = [word.replace("{tmp}", str(tmp_path)) for word in argv]
    line = assert_one_error_line(run_llmx(home, *args, cwd=tmp_path), command)
    assert named in line


@pytest.mark.parametrize(("argv", "said_by"), [
    (["exec", "--skip-git-repo-check", "hi"], "llmx exec"),
    (["sessions", "list"], "llmx sessions list"),
    (["history"], "llmx history"),
    ([], "llmx"),  # the interactive session
], ids=["exec", "sessions list", "history", "tui"])
def test_a_home_that_does_not_exist_is_refused_not_made(
    tmp_path: Path, argv: list[str], said_by: str
) -> None:
    # A mistyped LLMX_HOME: Codex refuses a missing CODEX_HOME the same way.
    home = tmp_path / "mistyped"
    result = run_llmx(home, *argv, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        f"{said_by}: LLMX_HOME points to {home}, which does not exist — create it "
        f"(mkdir -p {home}) or unset LLMX_HOME to use ~/.llmx\n")
    assert not home.exists()


def test_an_unknown_command_is_one_line(tmp_path: Path) -> None:
    result = run_llmx(tmp_path / "home", "frobnicate", "--help", cwd=tmp_path)
    assert result.returncode == 2
    refusal = "llmx: argument COMMAND: invalid choice: 'frobnicate' "
    assert result.stderr.startswith(refusal), result.stderr
    assert result.stderr.endswith(" — see `llmx --help`\n"), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr


def test_a_history_lock_timeout_is_one_line(tmp_path: Path) -> None:
    import fcntl

    home = tmp_path / "home"
    home.mkdir()
    history = home / "history.jsonl"
    history.write_text('{"session_id":"s","ts":1,"text":"hello"}\n')
    with history.open("rb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        line = assert_one_error_line(run_llmx(home, "history"), "history")
    assert str(history) in line
