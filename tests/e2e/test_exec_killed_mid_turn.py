"""A session killed while the model holds its answer is a session like any other.

``exec`` is killed with SIGKILL once its request reached the loopback server (which holds
the answer back): the file then holds the prompt and the turn's opening, and nothing after
them. Such a session is listed with its prompt, ``resume --last`` takes it, and resuming it
by id sends the model the prompt it already had, then the new one.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.exec_harness import ExecEnv, make_env, rollout_lines
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import WAIT_SECONDS

from llmx.events.reader import RolloutReader

SCRIPT = {
    "turns": [{"match": "held prompt", "delay": 120,
               "items": [{"type": "message", "text": "never seen"}]}],
    "fallback": [{"type": "message", "text": "done"}],
}


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer(Script.from_json(SCRIPT)) as running:
        yield running


@pytest.fixture
def env(tmp_path: Path, server: ModelServer) -> ExecEnv:
    return make_env(tmp_path, server.base_url)


def _killed_while_the_model_holds_its_answer(env: ExecEnv, server: ModelServer) -> Path:
    process = subprocess.Popen(
        [sys.executable, "-m", "llmx", "exec", "the held prompt"], cwd=env.workspace,
        env=env.env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        # The prompt goes to history.jsonl just after the turn's opening is fsynced to
        # the rollout: kill only once both are written, so the file side is settled.
        history = env.home / "history.jsonl"
        while not server.model_requests() or not env.rollouts() or not (
            history.exists() and history.read_text().strip()
        ):
            assert process.poll() is None, "exec ended before its request was held"
            assert time.monotonic() < deadline, "exec never reached the model"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=WAIT_SECONDS)
    [path] = env.rollouts()
    return path


def _llmx(env: ExecEnv, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llmx", *args], cwd=env.workspace,
                          env=env.env(), capture_output=True, text=True,
                          timeout=WAIT_SECONDS, check=False)


def test_a_session_killed_mid_turn_is_listed_and_resumed_with_its_prompt(
    env: ExecEnv, server: ModelServer
) -> None:
    path = _killed_while_the_model_holds_its_answer(env, server)
    reader = RolloutReader(path)
    kinds = [line.type for line in reader]
    assert reader.problems == []
    assert kinds[0] == "session_meta"
    assert "turn_context" in kinds
    assert "the held prompt" in path.read_text()
    thread_id = rollout_lines(path)[0]["payload"]["id"]

    listed = _llmx(env, "sessions", "list")
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if thread_id in line]
    assert "the held prompt" in row
    history = (env.home / "history.jsonl").read_text().splitlines()
    assert [json.loads(line)["text"] for line in history] == ["the held prompt"]

    resumed = env.run("resume", "--last", "and then")
    assert resumed.returncode == 0, resumed.stderr
    assert env.rollouts() == [path]
    sent = server.model_requests()[-1].body["input"]
    texts = [part.get("text") for item in sent if item.get("role") == "user"
             for part in item["content"]]
    assert texts[-2:] == ["the held prompt", "and then"]

    by_id = env.run("resume", thread_id, "once more")
    assert by_id.returncode == 0, by_id.stderr
    sent = server.model_requests()[-1].body["input"]
    texts = [part.get("text") for item in sent if item.get("role") == "user"
             for part in item["content"]]
    assert texts[-3:] == ["the held prompt", "and then", "once more"]
