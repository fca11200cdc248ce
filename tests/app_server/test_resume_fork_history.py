"""A resumed or forked thread's recorded turns are told once: in the thread/resume or
thread/fork answer, never again as notifications; thread/read of a fork folds its
parent's turns first (the fork's file continues the parent's, as Codex writes forks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.app_server_client import AppServer, drive_turn, make_home
from support.model_server import scripted

KEY = {"LLMX_TEST_MODEL_KEY": "k"}
SCRIPT = {"turns": [
    {"match": "first", "items": [{"type": "message", "text": "One."}]},
    {"match": "second", "items": [{"type": "message", "text": "Two."}]},
    {"match": "after the resume", "items": [{"type": "message", "text": "Resumed."}]},
    {"match": "in the fork", "items": [{"type": "message", "text": "Forked."}]},
]}


def _text(item: dict[str, Any]) -> Any:
    if item["type"] == "userMessage":
        return " ".join(part.get("text", "") for part in item["content"])
    return item.get("text")


def _texts(turns: list[dict[str, Any]]) -> list[list[Any]]:
    return [[_text(item) for item in turn["items"]] for turn in turns]


def _item_texts(messages: list[dict[str, Any]]) -> list[Any]:
    return [_text(m["params"]["item"]) for m in messages
            if m.get("method") in ("item/started", "item/completed")]


def test_resume_and_fork_tell_the_recorded_turns_once(tmp_path: Path) -> None:
    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = tmp_path / "work"
        work.mkdir()
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            thread_id = server.start_thread(cwd=str(work))
            drive_turn(server, thread_id, "first")
            drive_turn(server, thread_id, "second")
        recorded = [["first", "One."], ["second", "Two."]]
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            resumed = server.call("thread/resume", {"threadId": thread_id})["result"]
            assert _texts(resumed["thread"]["turns"]) == recorded
            told = len(server.received)
            seen = drive_turn(server, thread_id, "after the resume")
            assert _item_texts(server.received[told:]) == _item_texts(seen)
            assert set(_item_texts(seen)) - {""} == {"after the resume", "Resumed."}
            read = server.call("thread/read", {"threadId": thread_id,
                                               "includeTurns": True})["result"]
            assert _texts(read["thread"]["turns"]) == [*recorded,
                                                       ["after the resume", "Resumed."]]

            forked = server.call("thread/fork", {"threadId": thread_id})["result"]["thread"]
            assert _texts(forked["turns"]) == _texts(read["thread"]["turns"])
            told = len(server.received)
            seen = drive_turn(server, forked["id"], "in the fork")
            assert _item_texts(server.received[told:]) == _item_texts(seen)
            assert set(_item_texts(seen)) - {""} == {"in the fork", "Forked."}
            read = server.call("thread/read", {"threadId": forked["id"],
                                               "includeTurns": True})["result"]
            assert _texts(read["thread"]["turns"]) == [*_texts(forked["turns"]),
                                                       ["in the fork", "Forked."]]
            again = server.call("thread/resume", {"threadId": forked["id"]})["result"]
            assert _texts(again["thread"]["turns"]) == _texts(read["thread"]["turns"])
            whole = _texts(read["thread"]["turns"])
        # A new process resumes the fork: the parent's turns, then the fork's, once.
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            told = len(server.received)
            resumed = server.call("thread/resume", {"threadId": forked["id"]})["result"]
            assert _texts(resumed["thread"]["turns"]) == whole
            assert not [m for m in server.received[told:] if "method" in m
                        and m["method"].startswith("item/")]
            # Loaded (before the answer), then the thread's recorded usage (after it), as
            # Codex tells a client that resumes: the total of the four turns, attributed to
            # the turn whose response it was.
            assert [m.get("method") for m in server.received[told:]] == [
                "thread/status/changed", None]
            assert server.received[told]["params"]["status"] == {"type": "idle"}
            usage = server.next_message()
            assert usage["method"] == "thread/tokenUsage/updated"
            assert usage["params"]["tokenUsage"]["total"]["totalTokens"] == 4 * 110
            assert usage["params"]["turnId"] == resumed["thread"]["turns"][-1]["id"]
