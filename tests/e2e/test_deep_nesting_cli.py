"""JSON nested 1,000 levels deep, as every command meets it: in rollouts under ``sessions/``,
in ``history.jsonl`` and the thread names, from the model server's stream, and in a tool
call's arguments. None of it is fatal; each bad line is reported or skipped."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.exec_harness import ExecEnv, events, make_env
from support.model_scripts import Script
from support.model_server import ModelServer

DEEP = "[" * 1000 + "]" * 1000
DEEP_LINE = (
    '{"timestamp":"2026-01-01T00:00:00.000Z","type":"event_msg","payload":'
    '{"type":"user_message","message":"deep","images":' + DEEP + "}}\n"
)

SCRIPT = {
    "turns": [
        {"match": "bad stream", "items": [{"type": "message", "text": "never seen"}],
         "inject": [json.dumps({"type": "response.output_text.delta", "delta": "x"})[:-1]
                    + ',"extra":' + DEEP + "}"]},
        {"match": "deep arguments", "items": [
            {"type": "function_call", "name": "exec_command", "arguments": DEEP}]},
    ],
    "fallback": [{"type": "message", "text": "fine"}],
}


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer(Script.from_json(SCRIPT)) as running:
        yield running


@pytest.fixture
def env(tmp_path: Path, server: ModelServer) -> ExecEnv:
    return make_env(tmp_path, server.base_url)


def llmx(env: ExecEnv, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "llmx", *args], capture_output=True, text=True,
        env=env.env(), cwd=env.workspace, timeout=120, check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert "RecursionError" not in result.stderr
    return result


def spoil_home(env: ExecEnv) -> Path:
    """Two sessions; the newest gets a deep line in its middle and at its end, and a third
    rollout holds nothing but one deep line. History and names get one each too."""
    assert env.run("first prompt").returncode == 0
    assert env.run("second prompt").returncode == 0
    older, newest = env.rollouts()
    lines = newest.read_text().splitlines(keepends=True)
    newest.write_text("".join([*lines[:3], DEEP_LINE, *lines[3:], DEEP_LINE]))
    # Same day, another thread id: a session whose only line is too deep.
    thread = older.name[-41:-6]
    only_deep = older.with_name(older.name.replace(thread, "00000000" + thread[8:]))
    only_deep.write_text(DEEP_LINE)
    with (env.home / "history.jsonl").open("a") as history:
        history.write('{"session_id":"s","ts":1,"text":"x","more":' + DEEP + "}\n")
    (env.home / "session_index.jsonl").write_text(
        '{"id":"x","thread_name":"n","more":' + DEEP + "}\n"
    )
    return newest


def test_every_reader_of_the_home_skips_deep_lines(env: ExecEnv, server: ModelServer) -> None:
    newest = spoil_home(env)

    listed = llmx(env, "sessions", "list", "--json")
    assert listed.returncode == 0
    previews = [row["preview"] for row in json.loads(listed.stdout)["data"]]
    assert previews == ["second prompt", "first prompt"]

    found = llmx(env, "sessions", "search", "prompt", "--json")
    assert found.returncode == 0
    assert len(json.loads(found.stdout)["data"]) == 2

    reindexed = llmx(env, "sessions", "reindex")
    assert reindexed.returncode == 0
    assert "indexed" in reindexed.stdout

    history = llmx(env, "history")
    assert history.returncode == 0
    assert "skipped 1 unreadable line" in history.stderr

    checked = llmx(env, "rollout", "check", str(newest))
    assert checked.returncode == 1
    assert "nested more than 128 levels deep" in checked.stderr

    replayed = llmx(env, "replay", str(newest))
    assert replayed.returncode == 0
    assert "corrupt line skipped" in replayed.stderr

    inspected = llmx(env, "inspect", str(newest))
    assert inspected.returncode == 0

    resumed = env.run("resume", "--last", "third prompt")
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr
    sent = json.dumps(server.model_requests()[-1].body)
    assert "second prompt" in sent
    assert "third prompt" in sent


def test_a_deep_event_from_the_model_server_is_a_stream_error(env: ExecEnv) -> None:
    live = env.run("bad stream")
    assert live.returncode == 1
    assert "Traceback" not in live.stderr
    assert "nested more than 128 levels deep" in live.stderr
    [rollout] = env.rollouts()
    assert events(rollout, "error")
    assert events(rollout, "task_complete")
    checked = llmx(env, "rollout", "check", str(rollout))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_deep_tool_arguments_are_refused_and_the_turn_goes_on(env: ExecEnv) -> None:
    live = env.run("deep arguments")
    assert live.returncode == 0, live.stderr
    [rollout] = env.rollouts()
    outputs = [
        line["payload"]["output"]
        for line in map(json.loads, rollout.read_text().splitlines())
        if line["type"] == "response_item" and line["payload"]["type"] == "function_call_output"
    ]
    assert outputs
    assert "nested more than 128 levels deep" in json.dumps(outputs)
