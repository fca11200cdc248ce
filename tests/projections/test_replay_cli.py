"""``llmx replay`` as a real subprocess: corrupt lines, bad arguments, forks, shell quoting."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from projections.exec_replay_support import run_replay
from support import CODEX_FIXTURES, CODEX_RICH_FIXTURES, PROJECT_ROOT
from support.waits import WAIT_SECONDS

from llmx.projections.diff_render import apply_hunks, blob_id
from llmx.projections.shell_escape import join_command

SAY_HI = CODEX_FIXTURES / "rollouts/exec_plain_say_hi.rollout.jsonl"


def _llmx(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmx", *args],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, check=False,
        timeout=WAIT_SECONDS,
    )


def test_corrupt_lines_are_reported_by_number_and_skipped(tmp_path: Path) -> None:
    lines = SAY_HI.read_bytes().splitlines(keepends=True)
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_bytes(b"".join([*lines[:3], b"{not json\n", *lines[3:], b'{"type":"ev']))
    clean = _llmx("replay", str(SAY_HI))
    result = _llmx("replay", str(damaged))
    assert result.returncode == 0
    assert f"{damaged}:4: corrupt line skipped" in result.stderr
    assert f"{damaged}:{len(lines) + 2}: torn last line skipped" in result.stderr
    assert result.stdout == clean.stdout == "Hi! (from the mock)\n"
    kept = [ln for ln in result.stderr.splitlines() if "skipped" not in ln]
    assert kept == clean.stderr.splitlines()


def test_missing_session_is_a_one_line_error(tmp_path: Path) -> None:
    env = {**os.environ, "LLMX_HOME": str(tmp_path)}
    result = _llmx("replay", "01a1fc90-0000", env=env)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "no session with id, id prefix or name '01a1fc90-0000'" in result.stderr


def test_bad_color_value_is_rejected() -> None:
    result = _llmx("replay", "--color", "sometimes", str(SAY_HI))
    assert result.returncode == 2
    assert "--color" in result.stderr


THREAD = "01a1fc90-7b36-7ba1-af46-2bfb0ec00d81"


def _home_with_say_hi(home: Path, *threads: str) -> dict[str, str]:
    """A home whose sessions folder holds the say-hi rollout as each of ``threads``; the
    environment that points llmx at it."""
    day = home / "sessions/2026/11/21"
    day.mkdir(parents=True)
    for thread in threads:
        shutil.copy(SAY_HI, day / f"rollout-2026-11-21T05-24-00-{thread}.jsonl")
    return {**os.environ, "LLMX_HOME": str(home)}


def test_session_id_prefix_resolves_under_llmx_home(tmp_path: Path) -> None:
    env = _home_with_say_hi(tmp_path, THREAD)
    thread = THREAD
    result = _llmx("replay", "--json", "01a1fc90-7b36", env=env)
    assert result.returncode == 0
    assert result.stdout.startswith(f'{{"type":"thread.started","thread_id":"{thread}"}}')


def test_a_session_is_found_by_its_thread_name(tmp_path: Path) -> None:
    env = _home_with_say_hi(tmp_path, THREAD)
    thread = THREAD
    renamed = _llmx("sessions", "rename", thread, "greeting", env=env)
    assert renamed.returncode == 0, renamed.stderr
    by_name = _llmx("replay", "greeting", env=env)
    assert by_name.returncode == 0, by_name.stderr
    assert by_name.stdout == _llmx("replay", thread, env=env).stdout == "Hi! (from the mock)\n"
    audited = _llmx("inspect", "greeting", env=env)
    assert audited.returncode == 0, audited.stderr
    assert thread in audited.stdout


def test_a_prefix_of_several_sessions_names_them(tmp_path: Path) -> None:
    threads = [THREAD, "01a1fc90-7b37-7ba1-af46-2bfb0ec00d81"]
    env = _home_with_say_hi(tmp_path, *threads)
    result = _llmx("replay", "01a1fc90-7b3", env=env)
    assert result.returncode == 1
    assert result.stderr == (
        f"llmx replay: session prefix '01a1fc90-7b3' matches several sessions ({threads[0]}, "
        f"{threads[1]}) — type more of the id\n"
    )


def _install_fork(tmp_path: Path) -> Path:
    ids = {}
    for role in ("original", "full_fork"):
        src = CODEX_RICH_FIXTURES / f"rollouts/fork_and_revert__{role}.rollout.jsonl"
        first = src.read_text().split("\n", 1)[0]
        ids[role] = first.split('"id":"', 1)[1].split('"', 1)[0]
        shutil.copy(src, tmp_path / f"rollout-2026-11-21T05-30-00-{ids[role]}.jsonl")
    return tmp_path / f"rollout-2026-11-21T05-30-00-{ids['full_fork']}.jsonl"


def test_fork_replays_its_own_turns_and_with_parent_the_prefix_first(tmp_path: Path) -> None:
    fork = _install_fork(tmp_path)
    parent = next(p for p in tmp_path.iterdir() if p != fork)
    _, own, _ = run_replay(fork)
    _, inherited, _ = run_replay(fork, with_parent=True)
    _, parent_out, _ = run_replay(parent)
    assert own
    assert inherited.endswith(own)
    prefix = inherited[: -len(own)]
    assert prefix
    assert parent_out.startswith(prefix)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/bin/bash", "-lc", "echo hi > out.txt"], "/bin/bash -lc 'echo hi > out.txt'"),
        (["python3", "-c", "print('x')"], "python3 -c \"print('x')\""),
        (["echo", ""], "echo ''"),
        (["echo", "a'b$c"], "echo \"a'b\"'$c'"),
        (["ls", "é"], "ls 'é'"),
    ],
)
def test_commands_are_quoted_like_codex(argv: list[str], expected: str) -> None:
    assert join_command(argv) == expected


def test_blob_ids_and_hunks() -> None:
    # Ids git gave these files in the apply_patch fixture's turn diff.
    assert blob_id("obsolete\n") == "6e263abce10f69a67055f355ff61e4d51f66962d"
    assert blob_id('def hello():\n    return "hello"\n') == (
        "d58c8784eb3c72274fe15fbbbd42e66211747492"
    )
    diff = "@@ -1,2 +1,2 @@\n alpha\n-beta\n+beta (moved)\n"
    assert apply_hunks("alpha\nbeta\n", diff) == "alpha\nbeta (moved)\n"
    assert apply_hunks("alpha\ngamma\n", diff) is None


PATCHED = CODEX_RICH_FIXTURES / "rollouts/apply_patch_add_update_delete_human.rollout.jsonl"


def _replay_on_a_terminal(extra_env: dict[str, str]) -> str:
    from support.terminal import Terminal

    env = {key: value for key, value in os.environ.items() if key != "NO_COLOR"}
    env.update(extra_env)
    argv = [sys.executable, "-m", "llmx", "replay", str(PATCHED)]
    with Terminal(argv, env=env, cwd=PROJECT_ROOT) as terminal:
        assert terminal.finish() == 0
        return terminal.screen


def test_replay_on_a_terminal_colours_diff_lines() -> None:
    screen = _replay_on_a_terminal({})
    # Added lines green, removed lines red, hunk headers cyan, file headers bold.
    assert "\x1b[32m+line two (patched)\x1b[0m" in screen
    assert "\x1b[31m-line two\x1b[0m" in screen
    assert "\x1b[36m@@ -1,3 +1,3 @@\x1b[0m" in screen
    assert "\x1b[1mdiff --git a/update_me.txt b/update_me.txt\x1b[0m" in screen


def test_replay_honours_no_color_on_a_terminal() -> None:
    screen = _replay_on_a_terminal({"NO_COLOR": "1"})
    assert "\x1b[" not in screen
    assert "+line two (patched)\n" in screen
