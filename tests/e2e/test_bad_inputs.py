"""Bad inputs from the user or a server end in one line, never a traceback or a flood.

Each case runs the real command against a real home and the loopback model server: a
provider address that is no URL, a ``--limit`` larger than SQLite's integers, and a
server whose error page is 2 MB.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.exec_harness import ExecEnv, events, make_env
from support.model_scripts import Script
from support.model_server import ModelServer

HUGE_ERROR = "E" * 2_000_000
SCRIPT = {
    "turns": [{"match": "flood", "status": 500, "error": HUGE_ERROR} for _ in range(4)],
    "fallback": [{"type": "message", "text": "fine"}],
}


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer(Script.from_json(SCRIPT)) as running:
        yield running


@pytest.fixture
def env(tmp_path: Path, server: ModelServer) -> ExecEnv:
    return make_env(tmp_path, server.base_url)


def _llmx(env: ExecEnv, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmx", *args], cwd=env.workspace, env=env.env(),
        capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [("http://[::1/v1", "is not a URL (Invalid IPv6 URL)"),
     ("not a url", "is not an http:// or https:// URL")],
)
def test_a_base_url_that_is_no_url_is_one_line_before_anything_runs(
    env: ExecEnv, url: str, problem: str
) -> None:
    config = env.home / "config.toml"
    config.write_text(config.read_text().replace(env.base_url, url))
    done = env.run("hello")
    assert done.returncode == 1
    [line] = [text for text in done.stderr.splitlines() if text.startswith("llmx exec:")]
    assert line.startswith(f"llmx exec: {config}:")
    assert f'`model_providers.mock.base_url` = "{url}": {problem}' in line
    assert "Traceback" not in done.stderr
    assert env.rollouts() == []


@pytest.mark.parametrize(
    "command",
    [("sessions", "list"), ("sessions", "search", "hello"), ("history",)],
    ids=" ".join,
)
def test_a_limit_beyond_sqlite_integers_lists_everything(
    env: ExecEnv, command: tuple[str, ...]
) -> None:
    assert env.run("hello").returncode == 0
    limited = _llmx(env, *command, "--limit", "99999999999999999999")
    assert limited.returncode == 0, limited.stderr
    assert limited.stdout == _llmx(env, *command).stdout
    assert "hello" in limited.stdout


def test_a_two_megabyte_server_error_is_shown_capped(env: ExecEnv) -> None:
    done = env.run("flood")
    assert done.returncode == 1
    # Two retries and the final error, each with the body's start and end only.
    assert len(done.stdout) + len(done.stderr) < 20_000
    shown = [line for line in done.stderr.splitlines() if "EEEE" in line]
    assert len(shown) == 3
    for line in shown:
        assert "…(1998" in line
        assert "bytes left out)…" in line
        # The body's end survives the cut.
        assert '"type": "server_error"}}' in line
    [rollout] = env.rollouts()
    [error] = events(rollout, "error")
    assert len(error["message"]) < 2_100
    assert rollout.stat().st_size < 50_000


def test_an_unwritable_last_message_file_fails_the_run_and_keeps_the_session(
    env: ExecEnv, tmp_path: Path
) -> None:
    target = tmp_path / "no such folder" / "last.txt"
    done = env.run("-o", str(target), "hello")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"llmx exec: -o: cannot write {target}: no such file or folder — check the path")
    assert "Traceback" not in done.stderr
    [rollout] = env.rollouts()
    assert [event["last_agent_message"] for event in events(rollout, "task_complete")] == [
        "fine"]


def test_a_file_that_is_no_rollout_is_one_line_not_a_warning_per_line(env: ExecEnv) -> None:
    # A README passed by mistake: not one line is JSON. A rollout with bad lines among
    # good ones is still read, each bad line reported (tests/projections, tests/events).
    readme = env.workspace / "README.md"
    readme.write_text("# A project\n\nIt does things.\n\n- one\n- two\n")
    for command in (["replay"], ["replay", "--json"], ["inspect"], ["inspect", "--history"]):
        done = _llmx(env, *command, str(readme))
        assert (done.returncode, done.stdout) == (1, ""), done.stderr
        assert done.stderr == (
            f"llmx {command[0]}: {readme} is not a rollout: not one of its lines is JSON — "
            + ("pass a rollout-*.jsonl file, or a session id from `llmx sessions list`\n"
               if command[0] == "replay" else "pass a rollout-*.jsonl file or a session id\n"))
    # One good line is enough to be read as a rollout, the rest reported line by line.
    readme.write_text(readme.read_text() + '{"type":"turn_context","payload":{}}\n')
    read = _llmx(env, "replay", str(readme))
    assert read.returncode == 0, read.stderr
    assert f"{readme}:1: corrupt line skipped" in read.stderr
