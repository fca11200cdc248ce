"""thread/revert, as Codex 0.169 does it: the thread keeps its id and goes on from a new
segment file (``rollout-<ts>-<thread>_<segment>.jsonl``) whose ``history_base`` ends
where the turn began; the old file keeps every line; the turns after the cut leave what
the model is sent, what thread/read shows and what a new process resumes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.app_server_client import AppServer, drive_turn, make_home
from support.model_server import scripted
from support.waits import wait_until

KEY = {"LLMX_TEST_MODEL_KEY": "k"}
SCRIPT = {"turns": [
    {"match": "turn one", "items": [{"type": "message", "text": "One."}]},
    {"match": "turn two", "items": [{"type": "message", "text": "Two."}]},
    {"match": "turn three", "items": [{"type": "message", "text": "Three."}]},
    {"match": "after the revert", "items": [{"type": "message", "text": "Reverted."}]},
    {"match": "slow", "delay": 60, "items": [{"type": "message", "text": "Never."}]},
    {"match": "after the interrupt", "items": [{"type": "message", "text": "Again."}]},
]}


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _lines_of(data: bytes) -> list[bytes]:
    return data.splitlines()


def _texts(turns: list[dict[str, Any]]) -> list[list[Any]]:
    out = []
    for turn in turns:
        texts = []
        for item in turn["items"]:
            if item["type"] == "userMessage":
                texts.append(" ".join(part.get("text", "") for part in item["content"]))
            elif item["type"] == "agentMessage":
                texts.append(item["text"])
        out.append(texts)
    return out


def _user_texts(body: dict[str, Any]) -> list[str]:
    return [part.get("text", "") for item in body["input"] if item.get("role") == "user"
            for part in item.get("content", [])]


def _turn_id(seen: list[dict[str, Any]]) -> str:
    return str(next(m["params"]["turn"]["id"] for m in seen
                    if m.get("method") == "turn/started"))


def _revert(server: AppServer, thread_id: str, turn_id: str) -> list[dict[str, Any]]:
    """Send thread/revert; every message up to and including ``thread/reverted``."""
    told = len(server.received)
    answer = server.call("thread/revert", {"threadId": thread_id, "beforeTurnId": turn_id})
    assert "result" in answer, answer
    while server.received[-1].get("method") != "thread/reverted":
        server.next_message()
    return server.received[told:]


def test_revert_cuts_the_history_into_a_new_segment(tmp_path: Path) -> None:
    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = tmp_path / "work"
        work.mkdir()
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            thread_id = server.start_thread(cwd=str(work))
            drive_turn(server, thread_id, "turn one")
            second = _turn_id(drive_turn(server, thread_id, "turn two"))
            drive_turn(server, thread_id, "turn three")
            [original] = sorted((home / "sessions").rglob("rollout-*.jsonl"))
            before = original.read_bytes()

            # Codex's words for a turn the thread does not hold; nothing is stopped.
            missing = server.call("thread/revert", {"threadId": thread_id,
                                                    "beforeTurnId": "missing-turn"})
            assert missing["error"] == {"code": -32600, "message": "turn not found: missing-turn"}
            unloaded = server.call("thread/revert", {"threadId": "0" * 8 + "-0000-7000-8000-"
                                                     + "0" * 12, "beforeTurnId": second})
            assert unloaded["error"]["message"].startswith("thread not found: ")

            told = _revert(server, thread_id, second)
            # As Codex: unloaded, idle again, the answer (no turns), then thread/reverted.
            kinds = [m.get("method") or "response" for m in told]
            assert kinds == ["thread/status/changed", "thread/status/changed", "response",
                             "thread/reverted"]
            assert [m["params"]["status"] for m in told[:2]] == [{"type": "notLoaded"},
                                                                 {"type": "idle"}]
            answer = told[2]["result"]
            assert answer["thread"]["id"] == thread_id
            assert answer["thread"]["turns"] == []
            assert answer["thread"]["preview"] == "turn one"
            segment = Path(answer["thread"]["path"])
            assert told[3]["params"] == {"threadId": thread_id}

            after = drive_turn(server, thread_id, "after the revert")
            assert after[-1]["params"]["turn"]["status"] == "completed"
            usage = [m["params"]["tokenUsage"]["total"]["totalTokens"] for m in after
                     if m.get("method") == "thread/tokenUsage/updated"]
            read = server.call("thread/read", {"threadId": thread_id,
                                               "includeTurns": True})["result"]["thread"]
        bodies = [request.body for request in model.model_requests()]

    # What the model was sent after the revert: turn one, not the turns after it.
    assert _user_texts(bodies[3])[-1] == "after the revert"
    assert "turn one" in _user_texts(bodies[3])
    assert not {"turn two", "turn three"} & set(_user_texts(bodies[3]))
    # The thread's token total is the kept turn's, then this turn's (as Codex counts).
    assert usage == [220]
    assert _texts(read["turns"]) == [["turn one", "One."], ["after the revert", "Reverted."]]

    # The old file keeps every line (the thread's shutdown is its last); the segment
    # continues it from the cut.
    assert original.read_bytes().startswith(before)
    assert [line["payload"]["op"]["type"] for line in _lines(original)[len(_lines_of(before)):]
            ] == ["shutdown"]
    assert segment.parent == original.parent
    assert segment.name.startswith("rollout-")
    assert segment.name.endswith(f"-{thread_id}_{segment.name[-42:-6]}.jsonl")
    old = _lines(original)
    cut = next(i for i, line in enumerate(old) if line["payload"].get("turn_id") == second
               and line["payload"].get("type") == "task_started")
    while old[cut - 1]["payload"].get("type") != "task_complete":
        cut -= 1  # the writer line that opens llmx's turn is the next turn's
    meta = _lines(segment)[0]
    assert meta["type"] == "session_meta"
    assert meta["ordinal"] == old[cut]["ordinal"]
    payload = meta["payload"]
    assert payload["id"] == thread_id
    assert "forked_from_id" not in payload
    assert payload["history_base"] == {
        "thread_id": thread_id, "end_ordinal_exclusive": old[cut]["ordinal"],
        "end_byte_offset": len(b"".join(line + b"\n" for line in before.split(b"\n")[:cut])),
    }
    assert payload["cwd"] == old[0]["payload"]["cwd"]
    assert payload["originator"] == old[0]["payload"]["originator"]
    assert [line["ordinal"] for line in _lines(segment)] == list(
        range(old[cut]["ordinal"], old[cut]["ordinal"] + len(_lines(segment))))

    # A new process resumes the thread where it goes on: the segment.
    with scripted(SCRIPT) as model, AppServer(home, work, env=KEY) as server:
        server.initialize()
        listed = server.call("thread/list", {})["result"]["data"]
        resumed = server.call("thread/resume", {"threadId": thread_id})["result"]
    # One thread, listed where it goes on (Codex points its index at the segment too).
    assert [(thread["id"], thread["path"]) for thread in listed] == [(thread_id, str(segment))]
    assert resumed["thread"]["path"] == str(segment)
    assert _texts(resumed["thread"]["turns"]) == _texts(read["turns"])


def test_revert_interrupts_the_running_turn_first(tmp_path: Path) -> None:
    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = tmp_path / "work"
        work.mkdir()
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            thread_id = server.start_thread(cwd=str(work), approvalPolicy="never")
            drive_turn(server, thread_id, "turn one")
            server.send({"id": "slow", "method": "turn/start",
                         "params": {"threadId": thread_id,
                                    "input": [{"type": "text", "text": "slow"}]}})
            running = ""
            while not running:
                message = server.next_message()
                if message.get("method") == "turn/started":
                    running = message["params"]["turn"]["id"]
            wait_until(lambda: len(model.model_requests()) == 2, "the slow request")
            told = _revert(server, thread_id, running)
            # The running turn ends interrupted before the thread is unloaded.
            completed = [m for m in told if m.get("method") == "turn/completed"]
            assert [m["params"]["turn"]["status"] for m in completed] == ["interrupted"]
            assert told.index(completed[0]) < next(
                i for i, m in enumerate(told) if m.get("method") == "thread/status/changed"
                and m["params"]["status"] == {"type": "notLoaded"})
            again = drive_turn(server, thread_id, "after the interrupt")
            assert again[-1]["params"]["turn"]["status"] == "completed"
            read = server.call("thread/read", {"threadId": thread_id,
                                               "includeTurns": True})["result"]["thread"]
        bodies = [request.body for request in model.model_requests()]
    assert _texts(read["turns"]) == [["turn one", "One."],
                                     ["after the interrupt", "Again."]]
    assert "slow" not in _user_texts(bodies[-1])
    # The approval policy the thread was started with is kept across the reload.
    contexts = [line["payload"] for path in sorted((home / "sessions").rglob("*.jsonl"))
                for line in _lines(path) if line["type"] == "turn_context"]
    assert {context["approval_policy"] for context in contexts} == {"never"}


def test_revert_before_the_first_turn_keeps_no_turn(tmp_path: Path) -> None:
    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = tmp_path / "work"
        work.mkdir()
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            thread_id = server.start_thread(cwd=str(work))
            first = _turn_id(drive_turn(server, thread_id, "turn one"))
            _revert(server, thread_id, first)
            drive_turn(server, thread_id, "after the revert")
            read = server.call("thread/read", {"threadId": thread_id,
                                               "includeTurns": True})["result"]["thread"]
        bodies = [request.body for request in model.model_requests()]
    assert _texts(read["turns"]) == [["after the revert", "Reverted."]]
    assert "turn one" not in _user_texts(bodies[-1])
    [segment] = [path for path in (home / "sessions").rglob("*.jsonl") if "_" in path.name]
    assert _lines(segment)[0]["payload"]["history_base"]["end_ordinal_exclusive"] == 1
