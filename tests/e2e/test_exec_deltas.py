"""Streaming deltas: published always, persisted with ``[rollout] persist_deltas`` only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.exec_harness import (
    ExecEnv,
    assert_replay_equals_live,
    completed_items,
    events,
    make_env,
    rollout_lines,
)
from support.model_scripts import Script
from support.model_server import ModelServer

_ANSWER = "The build is green again after the flaky test was pinned to one worker."
_SUMMARY = ["**Checking the build** looking at the last CI run", "**Fixing** pin the worker"]
_SCRIPT = {"turns": [], "fallback": [
    {"type": "reasoning", "summary": _SUMMARY},
    {"type": "message", "text": _ANSWER},
]}
_DELTA_TYPES = {
    "agent_message_content_delta", "agent_message_delta", "reasoning_content_delta",
    "agent_reasoning_delta", "reasoning_raw_content_delta", "agent_reasoning_raw_content_delta",
}


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer(Script.from_json(_SCRIPT)) as running:
        yield running


def _env(tmp_path: Path, server: ModelServer, name: str, wire_api: str = "responses") -> ExecEnv:
    (tmp_path / name).mkdir()
    env = make_env(tmp_path / name, server.base_url)
    config = env.home / "config.toml"
    config.write_text(config.read_text().replace(
        'wire_api = "responses"', f'wire_api = "{wire_api}"'
    ))
    return env


def _delta_payloads(rollout: Path) -> list[dict[str, object]]:
    return [line["payload"] for line in rollout_lines(rollout)
            if line["type"] == "event_msg" and line["payload"]["type"] in _DELTA_TYPES]


@pytest.mark.parametrize("as_json", [False, True])
def test_persisted_deltas_add_up_to_the_items_and_change_no_output(
    tmp_path: Path, server: ModelServer, as_json: bool
) -> None:
    flag = ["--json"] if as_json else []
    plain_env = _env(tmp_path, server, "plain")
    plain = plain_env.run(*flag, "fix the build")
    deltas_env = _env(tmp_path, server, "deltas")
    streamed = deltas_env.run(*flag, "-c", "rollout.persist_deltas=true", "fix the build")
    assert plain.returncode == 0, plain.stderr
    assert streamed.returncode == 0, streamed.stderr

    [plain_rollout] = plain_env.rollouts()
    assert _delta_payloads(plain_rollout) == []
    [rollout] = deltas_env.rollouts()
    deltas = _delta_payloads(rollout)
    [message] = completed_items(rollout, "AgentMessage")
    [reasoning] = completed_items(rollout, "Reasoning")
    text = [d for d in deltas if d["type"] == "agent_message_content_delta"]
    summary = [d for d in deltas if d["type"] == "reasoning_content_delta"]
    # Word-sized pieces, each naming its item, adding up to the completed items.
    assert len(text) > 5
    assert "".join(str(d["delta"]) for d in text) == _ANSWER
    assert {d["item_id"] for d in text} == {message["id"]}
    for index, part in enumerate(_SUMMARY):
        pieces = [d for d in summary if d["summary_index"] == index]
        assert "".join(str(d["delta"]) for d in pieces) == part
    assert {d["item_id"] for d in summary} == {reasoning["id"]}
    [complete] = events(rollout, "task_complete")
    thread_id = rollout_lines(rollout)[0]["payload"]["id"]
    assert {(d["thread_id"], d["turn_id"]) for d in deltas} == {(thread_id, complete["turn_id"])}
    # Only the originals are persisted, as Codex does; the legacy forms are derived.
    assert {d["type"] for d in deltas} == {"agent_message_content_delta",
                                           "reasoning_content_delta"}
    # Ordinals stay dense with the deltas among the lines.
    lines = rollout_lines(rollout)
    assert [line["ordinal"] for line in lines] == list(range(len(lines)))

    # Deltas change neither what the run printed nor what a replay prints.
    assert _normalised(streamed.stdout, deltas_env) == _normalised(plain.stdout, plain_env)
    assert _normalised(streamed.stderr, deltas_env) == _normalised(plain.stderr, plain_env)
    assert_replay_equals_live(deltas_env, rollout, streamed, as_json=as_json)
    assert_replay_equals_live(plain_env, plain_rollout, plain, as_json=as_json)


def test_chat_completions_deltas_name_the_items_they_belong_to(
    tmp_path: Path, server: ModelServer
) -> None:
    env = _env(tmp_path, server, "chat", wire_api="chat")
    live = env.run("-c", "rollout.persist_deltas=true", "fix the build")
    assert live.returncode == 0, live.stderr
    [rollout] = env.rollouts()
    deltas = _delta_payloads(rollout)
    [message] = completed_items(rollout, "AgentMessage")
    text = [d for d in deltas if d["type"] == "agent_message_content_delta"]
    assert "".join(str(d["delta"]) for d in text) == _ANSWER
    # Chat Completions items carry no id: the one made for the deltas is the item's.
    assert {d["item_id"] for d in text} == {message["id"]}
    raw = [d for d in deltas if d["type"] == "reasoning_raw_content_delta"]
    assert "".join(str(d["delta"]) for d in raw)
    assert_replay_equals_live(env, rollout, live)


def _normalised(text: str, env: ExecEnv) -> str:
    # The thread id and the workdir differ between the runs; nothing else may.
    [rollout] = env.rollouts()
    thread_id = str(rollout_lines(rollout)[0]["payload"]["id"])
    return text.replace(str(env.workspace), "WORKDIR").replace(thread_id, "THREAD")
