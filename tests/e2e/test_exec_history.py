"""``llmx exec`` records each prompt of a persisted session in ``history.jsonl``."""

from __future__ import annotations

import fcntl
import itertools
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.exec_harness import ExecEnv, events, make_env, rollout_lines
from support.model_scripts import Script
from support.model_server import ModelServer

_SCRIPT = {"turns": [], "fallback": [{"type": "message", "text": "noted"}]}


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer(Script.from_json(_SCRIPT)) as running:
        yield running


@pytest.fixture
def env(tmp_path: Path, server: ModelServer) -> ExecEnv:
    return make_env(tmp_path, server.base_url)


def _history(env: ExecEnv) -> list[dict[str, object]]:
    return [json.loads(line) for line in (env.home / "history.jsonl").read_text().splitlines()]


def _thread_id(rollout: Path) -> str:
    meta = rollout_lines(rollout)[0]
    assert meta["type"] == "session_meta"
    return str(meta["payload"]["id"])


def _history_cli(env: ExecEnv, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmx", "history", *args], capture_output=True, text=True,
        env=env.env(), timeout=60, check=False,
    )


def test_the_prompt_is_in_history_with_the_thread_id(env: ExecEnv) -> None:
    live = env.run("write the release notes")
    assert live.returncode == 0, live.stderr
    [rollout] = env.rollouts()
    [entry] = _history(env)
    assert list(entry) == ["session_id", "ts", "text"]
    assert entry["session_id"] == _thread_id(rollout)
    assert entry["text"] == "write the release notes"
    assert (env.home / "history.jsonl").stat().st_mode & 0o777 == 0o600
    shown = _history_cli(env, "--json")
    assert shown.returncode == 0, shown.stderr
    [listed] = [json.loads(line) for line in shown.stdout.splitlines()]
    assert listed == entry


def test_the_prompt_with_stdin_is_recorded_as_sent(env: ExecEnv) -> None:
    live = env.run("summarise", stdin=b"line one\n")
    assert live.returncode == 0, live.stderr
    [entry] = _history(env)
    assert entry["text"] == "summarise\n\n<stdin>\nline one\n</stdin>"


def test_resume_appends_the_next_prompt_under_the_same_thread(env: ExecEnv) -> None:
    assert env.run("first").returncode == 0
    resumed = env.run("resume", "--last", "second")
    assert resumed.returncode == 0, resumed.stderr
    [rollout] = env.rollouts()
    thread = _thread_id(rollout)
    assert [(e["session_id"], e["text"]) for e in _history(env)] == [
        (thread, "first"), (thread, "second"),
    ]


def test_ephemeral_writes_no_history(env: ExecEnv) -> None:
    live = env.run("--ephemeral", "secret plan")
    assert live.returncode == 0, live.stderr
    assert not (env.home / "history.jsonl").exists()
    assert env.rollouts() == []


def test_ephemeral_resume_writes_no_history(env: ExecEnv) -> None:
    assert env.run("first").returncode == 0
    before = (env.home / "history.jsonl").read_bytes()
    live = env.run("--ephemeral", "resume", "--last", "second")
    assert live.returncode == 0, live.stderr
    assert (env.home / "history.jsonl").read_bytes() == before


def test_persistence_none_in_the_file_writes_no_history(
    tmp_path: Path, server: ModelServer
) -> None:
    env = make_env(tmp_path, server.base_url, config_extra='[history]\npersistence = "none"\n')
    live = env.run("say hi")
    assert live.returncode == 0, live.stderr
    assert not (env.home / "history.jsonl").exists()
    # The rollout is written as usual.
    [rollout] = env.rollouts()
    assert events(rollout, "task_complete")


def test_persistence_none_as_an_override_writes_no_history(env: ExecEnv) -> None:
    live = env.run("-c", 'history.persistence="none"', "say hi")
    assert live.returncode == 0, live.stderr
    assert not (env.home / "history.jsonl").exists()


def test_a_bad_persistence_value_is_one_line_and_nothing_is_written(env: ExecEnv) -> None:
    live = env.run("-c", "history.persistence=forever", "say hi")
    assert live.returncode == 1
    assert "`history.persistence` = \"forever\"" in live.stderr.strip().splitlines()[-1]
    assert not (env.home / "history.jsonl").exists()
    assert env.rollouts() == []


def test_max_bytes_trims_older_prompts(env: ExecEnv) -> None:
    old = "".join(
        json.dumps({"session_id": "old", "ts": 1, "text": f"old prompt {n:04d}"}) + "\n"
        for n in range(200)
    )
    (env.home / "history.jsonl").write_text(old)
    live = env.run("-c", "history.max_bytes=1000", "the newest")
    assert live.returncode == 0, live.stderr
    history = _history(env)
    assert (env.home / "history.jsonl").stat().st_size <= 1000
    assert history[-1]["text"] == "the newest"
    assert all(entry["session_id"] == "old" for entry in history[:-1])


def test_a_held_history_lock_warns_once_and_the_turn_completes(env: ExecEnv) -> None:
    path = env.home / "history.jsonl"
    path.touch(mode=0o600)
    with path.open("rb") as holder:
        # Another process (here: this one) holds the lock past exec's bounded wait.
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX)
        live = env.run("say hi")
    assert live.returncode == 0, live.stderr
    assert live.stdout == "noted\n"
    warnings = [line for line in live.stderr.splitlines() if line.startswith("llmx exec: warning:")]
    assert len(warnings) == 1
    assert "history.jsonl" in warnings[0]
    assert "lock" in warnings[0]
    assert path.read_bytes() == b""
    # The rollout is the truth: it holds the prompt and a completed turn.
    [rollout] = env.rollouts()
    assert events(rollout, "task_complete")[0]["last_agent_message"] == "noted"
    assert "say hi" in rollout.read_text()


def test_an_unwritable_history_warns_and_the_turn_completes(env: ExecEnv) -> None:
    # A folder where the file should be: every append fails with an OS error.
    (env.home / "history.jsonl").mkdir()
    live = env.run("say hi")
    assert live.returncode == 0, live.stderr
    [warning] = [
        line for line in live.stderr.splitlines() if line.startswith("llmx exec: warning:")
    ]
    assert "history.jsonl" in warning
    [rollout] = env.rollouts()
    assert events(rollout, "task_complete")


def test_short_ids_are_unique_and_resume_takes_them(env: ExecEnv) -> None:
    # UUIDv7 ids of sessions started within a minute share their first eight characters
    # (a timestamp): a listing must show enough of each to tell them apart.
    for prompt in ("first session", "second session", "third session"):
        assert env.run(prompt).returncode == 0
    listed = _history_cli(env)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("  ", 2) for line in listed.stdout.splitlines()]
    shown = {text: short for _when, short, text in rows}
    assert len(set(shown.values())) == 3
    assert len({len(short) for short in shown.values()}) == 1
    by_id = {_thread_id(rollout): rollout for rollout in env.rollouts()}
    [second] = [path for tid, path in by_id.items() if tid.startswith(shown["second session"])]
    resumed = env.run("resume", shown["second session"], "back to the second")
    assert resumed.returncode == 0, resumed.stderr
    assert "back to the second" in second.read_text()
    # Sessions started within one minute collide on eight characters: what is shown is
    # longer, and so is only as long as the ids that collide need (git's rule).
    ids = sorted(by_id)
    common = max(next(i for i, (a, b) in enumerate(zip(x, y, strict=True)) if a != b)
                 for x, y in itertools.pairwise(ids))
    assert common >= 8, ids
    assert len(shown["second session"]) == common + 1
    # Every command that takes a session id takes the prefix back.
    second_id = _thread_id(second)
    for command in (["sessions", "show", "--json"], ["replay"], ["inspect", "--json"]):
        taken = subprocess.run(
            [sys.executable, "-m", "llmx", *command, shown["second session"]],
            capture_output=True, text=True, env=env.env(), cwd=env.workspace, timeout=60,
            check=False)
        assert taken.returncode == 0, (command, taken.stderr)
        assert second_id in taken.stdout + taken.stderr, command
