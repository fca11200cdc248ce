"""``thread/rollback`` and ``thread/compact/start`` on ``llmx app-server``, with a
loopback model and real rollouts: what the client is told, what the model is sent next,
what the file holds."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from support.app_server_client import AppServer, drive_turn, make_home
from support.model_server import scripted
from support.waits import WAIT_SECONDS

KEY = {"LLMX_TEST_MODEL_KEY": "k"}
SUMMARY = "SUMMARY: one, two, three"


def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True, timeout=WAIT_SECONDS)
    return path


def rollout_of(home: Path, thread_id: str) -> Path:
    [path] = (home / "sessions").rglob(f"rollout-*-{thread_id}.jsonl")
    return path


def user_texts(body: dict[str, Any]) -> list[str]:
    return [part["text"] for item in body["input"] if item.get("role") == "user"
            for part in item.get("content") or () if not part["text"].startswith("<")]


def test_rollback_answers_with_the_thread_without_its_last_turns(tmp_path: Path) -> None:
    script = {"turns": [], "fallback": [{"type": "message", "text": "ok"}]}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = workspace(tmp_path)
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            thread_id = server.start_thread(cwd=str(work))
            for text in ("one", "two", "three"):
                drive_turn(server, thread_id, text)
            assert server.call("thread/rollback", {"threadId": thread_id, "numTurns": 0})[
                "error"] == {"code": -32600, "message": "numTurns must be >= 1"}
            answer = server.call("thread/rollback", {"threadId": thread_id, "numTurns": 2})
            thread = answer["result"]["thread"]
            assert thread["id"] == thread_id
            assert len(thread["turns"]) == 1
            assert thread["turns"][0]["items"][0]["content"][0]["text"] == "one"
            drive_turn(server, thread_id, "four")
            read = server.call("thread/read", {"threadId": thread_id, "includeTurns": True})
            missing = "0199a213-81c0-7800-8aa1-bbab2a035a53"
            unknown = server.call("thread/rollback", {"threadId": missing, "numTurns": 1})
        bodies = [request.body for request in model.model_requests()]
    assert unknown["error"]["message"] == f"thread not found: {missing}"
    assert user_texts(bodies[-1]) == ["one", "four"]
    # thread/read folds the file: the dropped turns stay dropped.
    assert [turn["items"][0]["content"][0]["text"]
            for turn in read["result"]["thread"]["turns"]] == ["one", "four"]
    lines = [json.loads(raw) for raw in rollout_of(home, thread_id).read_text().splitlines()]
    assert [line["payload"] for line in lines if line["payload"].get("type") ==
            "thread_rolled_back"] == [{"type": "thread_rolled_back", "num_turns": 2}]


def test_compact_start_runs_a_compaction_turn(tmp_path: Path) -> None:
    script = {"turns": [{"match": "CONTEXT CHECKPOINT",
                         "items": [{"type": "message", "text": SUMMARY}]}],
              "fallback": [{"type": "message", "text": "ok"}]}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = workspace(tmp_path)
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            thread_id = server.start_thread(cwd=str(work))
            for text in ("one", "two", "three"):
                drive_turn(server, thread_id, text)
            already = len(server.received)
            assert server.call("thread/compact/start", {"threadId": thread_id})[
                "result"] == {}
            while server.received[-1].get("method") != "turn/completed":
                server.next_message()
            seen = [m for m in server.received[already:] if "method" in m]
            drive_turn(server, thread_id, "four")
        bodies = [request.body for request in model.model_requests()]
    methods = [m.get("method") for m in seen]
    assert methods.index("turn/started") < methods.index("item/started")
    started = [m["params"]["item"]["type"] for m in seen if m.get("method") == "item/started"]
    assert started == ["contextCompaction"]
    assert seen[-1]["params"]["turn"]["status"] == "completed"
    assert user_texts(bodies[-1])[-2:] == [user_texts(bodies[-1])[-2], "four"]
    assert SUMMARY in user_texts(bodies[-1])[-2]
    assert "ok" not in json.dumps(bodies[-1]["input"][:-1])
