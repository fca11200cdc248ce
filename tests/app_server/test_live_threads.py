"""Threads run by ``llmx app-server``: live notifications equal the fold of the rollout,
interrupts, several threads at once, a client that goes away mid-turn."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from e2e.exec_harness import needs_sandbox
from support.app_server_client import AppServer, drive_turn, make_home
from support.model_server import scripted
from support.waits import WAIT_SECONDS, wait_until

from llmx.events.reader import read_rollout
from llmx.projections.app_server import (
    AppServerFold,
    Notification,
    RequestResolved,
    ServerRequest,
)

KEY = {"LLMX_TEST_MODEL_KEY": "k"}


def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True, timeout=WAIT_SECONDS)
    return path


def rollout_of(home: Path, thread_id: str) -> Path:
    [path] = (home / "sessions").rglob(f"rollout-*-{thread_id}.jsonl")
    return path


def without_times(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k not in ("emittedAtMs", "id")}


@needs_sandbox
def test_live_messages_equal_the_fold_of_the_rollout(tmp_path: Path) -> None:
    script = {"turns": [
        {"items": [{"type": "reasoning", "summary": [{"type": "summary_text", "text": "Plan"}]},
                   {"type": "shell", "command": "touch made.txt && echo hello"}]},
        {"items": [{"type": "message", "text": "Ran it."}]},
        {"items": [{"type": "message", "text": "Second answer."}]},
    ]}
    with scripted(script) as model:
        # Deltas are kept in the file too, so the fold sees everything live saw.
        home = make_home(tmp_path, model.base_url, "[rollout]\npersist_deltas = true\n")
        work = workspace(tmp_path)
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            thread_id = server.start_thread(approvalPolicy="untrusted",
                                            sandbox="workspace-write", cwd=str(work))
            live = drive_turn(server, thread_id, "run it", lambda m, p: {"decision": "accept"})
            live += drive_turn(server, thread_id, "and again")
    # thread/started follows the thread/start answer (Codex's order): not of the log.
    thread_messages = [m for m in live if "method" in m and m["method"] not in (
        "account/rateLimits/updated", "thread/started")]
    fold = AppServerFold()
    folded: list[dict[str, Any]] = []
    request_ids = iter(m["id"] for m in live if "method" in m and "id" in m)
    for line in read_rollout(rollout_of(home, thread_id)):
        for message in fold.feed(line):
            if isinstance(message, Notification):
                if message.method != "account/rateLimits/updated":
                    folded.append({"method": message.method, "params": message.params})
            elif isinstance(message, ServerRequest):
                folded.append({"method": message.method, "params": message.params})
            elif isinstance(message, RequestResolved):
                folded.append({"method": "serverRequest/resolved",
                               "params": {"threadId": thread_id, "requestId": next(request_ids)}})
    assert [without_times(m) for m in thread_messages] == folded
    methods = [m["method"] for m in thread_messages]
    assert "item/agentMessage/delta" in methods
    assert "item/reasoning/summaryTextDelta" in methods
    assert "item/commandExecution/requestApproval" in methods


@needs_sandbox
def test_interrupt_ends_the_turn_as_codex_does(tmp_path: Path) -> None:
    script = {"turns": [
        {"match": "slow", "items": [{"type": "shell", "command": "echo started; sleep 30"}]},
        {"items": [{"type": "message", "text": "Stopped."}]},
    ]}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = workspace(tmp_path)
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            # Confined: the login shell killed mid-start leaves nothing behind on the host.
            thread_id = server.start_thread(approvalPolicy="never",
                                            sandbox="workspace-write", cwd=str(work))
            assert server.call("turn/interrupt", {"threadId": thread_id, "turnId": "t"})[
                "error"]["message"] == "no active turn to interrupt"
            answers: list[dict[str, Any]] = []

            def interrupt_when_running(message: dict[str, Any]) -> None:
                if (message.get("method") == "item/started"
                        and message["params"]["item"]["type"] == "commandExecution"):
                    turn_id = message["params"]["turnId"]
                    wrong = server.call("turn/interrupt", {"threadId": thread_id,
                                                          "turnId": "other"})
                    answers.append(wrong)
                    server.send({"id": "stop", "method": "turn/interrupt",
                                 "params": {"threadId": thread_id, "turnId": turn_id}})
                    server.requests["stop"] = "turn/interrupt"

            seen = drive_turn(server, thread_id, "run the slow job",
                              on_message=interrupt_when_running)
            assert answers[0]["error"]["message"].startswith(
                "expected active turn id other but found ")
            assert {"id": "stop", "result": {}} in seen + server.received
            assert seen[-1]["params"]["turn"]["status"] == "interrupted"
            assert seen[-1]["params"]["turn"]["items"] == []
            # The killed command's item ends before the turn does (Codex, which leaves the
            # process running, ends it when the process ends).
            [ended] = [m["params"]["item"] for m in seen if m.get("method") == "item/completed"
                       and m["params"]["item"]["type"] == "commandExecution"]
            assert (ended["status"], ended["exitCode"]) == ("failed", -1)
            after = drive_turn(server, thread_id, "what happened")
            assert after[-1]["params"]["turn"]["status"] == "completed"
    kinds = [line.payload_type for line in read_rollout(rollout_of(home, thread_id))]
    assert "turn_aborted" in kinds


def test_two_threads_at_once_each_its_own_rollout(tmp_path: Path) -> None:
    script = {"turns": [
        {"match": "first", "delay": 0.5, "items": [{"type": "message", "text": "One."}]},
        {"match": "second", "items": [{"type": "message", "text": "Two."}]},
    ]}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = workspace(tmp_path)
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            first = server.start_thread(cwd=str(work))
            second = server.start_thread(cwd=str(work))
            for name, thread_id in (("first", first), ("second", second)):
                server.send({"id": name, "method": "turn/start", "params": {
                    "threadId": thread_id, "input": [{"type": "text", "text": name}]}})
                server.requests[name] = "turn/start"
            done: dict[str, str] = {}
            while len(done) < 2:
                message = server.next_message()
                if message.get("method") == "turn/completed":
                    params = message["params"]
                    done[params["threadId"]] = params["turn"]["items"][0]["text"]
            # The second thread answered while the first one's model was still thinking.
            order = [m["params"]["threadId"] for m in server.received
                     if m.get("method") == "turn/completed"]
            assert order == [second, first]
            assert done == {first: "One.", second: "Two."}
            listed = server.call("thread/list", {})["result"]["data"]
            assert sorted(t["id"] for t in listed) == sorted([first, second])
    assert rollout_of(home, first) != rollout_of(home, second)


def test_client_gone_mid_turn_loses_nothing_written(tmp_path: Path) -> None:
    script = {"turns": [{"items": [{"type": "shell", "command": "touch never-run"}]}]}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = workspace(tmp_path)
        server = AppServer(home, work, env=KEY)
        server.initialize()
        thread_id = server.start_thread(approvalPolicy="untrusted", cwd=str(work))
        server.send({"id": "t", "method": "turn/start", "params": {
            "threadId": thread_id, "input": [{"type": "text", "text": "make it"}]}})
        wait_until(lambda: server.next_message().get("method") ==
                   "item/commandExecution/requestApproval", "the approval request")
        # The client goes away with the approval unanswered.
        assert server.close() == 0
    assert not (work / "never-run").exists()
    path = rollout_of(home, thread_id)
    assert path.read_bytes().endswith(b"\n")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    kinds = [line["payload"].get("type") for line in lines]
    assert "exec_approval_request" in kinds
    assert kinds[-1] == "turn_aborted" or "turn_aborted" in kinds
    prompts = [line for line in lines if line["type"] == "submission"
               and line["payload"]["op"]["type"] == "user_turn"]
    assert len(prompts) == 1


@pytest.mark.parametrize("method", ["turn/start", "turn/interrupt"])
def test_turns_on_an_unknown_thread(tmp_path: Path, method: str) -> None:
    home = make_home(tmp_path)
    with AppServer(home, tmp_path) as server:
        server.initialize()
        missing = "0199a213-81c0-7800-8aa1-bbab2a035a53"
        params: dict[str, Any] = {"threadId": missing, "turnId": "x",
                                  "input": [{"type": "text", "text": "hi"}]}
        assert server.call(method, params)["error"] == {
            "code": -32600, "message": f"thread not found: {missing}"}


def test_fork_continues_the_history_in_a_new_thread(tmp_path: Path) -> None:
    script = {"turns": [
        {"match": "remember", "items": [{"type": "message", "text": "Remembered."}]},
        {"match": "in the fork", "items": [{"type": "message", "text": "Forked."}]},
    ]}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = workspace(tmp_path)
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            parent = server.start_thread(cwd=str(work))
            drive_turn(server, parent, "remember the number 7")
            assert server.call("thread/fork", {"threadId": parent, "lastTurnId": "x"})[
                "error"]["message"].startswith(f"cannot fork thread {parent}: turn not found: x")
            forked = server.call("thread/fork", {"threadId": parent})["result"]["thread"]
            assert forked["id"] != parent
            assert forked["forkedFromId"] == parent
            assert [t["status"] for t in forked["turns"]] == ["completed"]
            # After the answer, as Codex: the usage the fork inherits, then thread/started.
            usage, started = server.next_message(), server.next_message()
            assert usage["method"] == "thread/tokenUsage/updated"
            assert usage["params"]["threadId"] == forked["id"]
            assert usage["params"]["tokenUsage"]["total"]["totalTokens"] == 110
            assert started["method"] == "thread/started"
            assert started["params"]["thread"]["id"] == forked["id"]
            done = drive_turn(server, forked["id"], "what was it, in the fork")
            assert done[-1]["params"]["turn"]["items"][0]["text"] == "Forked."
        last = json.dumps(model.model_requests()[-1].body["input"])
        assert "remember the number 7" in last
    meta = json.loads(rollout_of(home, forked["id"]).read_text().splitlines()[0])["payload"]
    assert meta["forked_from_id"] == parent


def test_fork_through_or_before_a_turn(tmp_path: Path) -> None:
    script = {"turns": [], "fallback": [{"type": "message", "text": "ok"}]}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = workspace(tmp_path)
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            parent = server.start_thread(cwd=str(work))
            turn_ids = []
            for text in ("one", "two", "three"):
                done = drive_turn(server, parent, text)
                turn_ids.append(done[-1]["params"]["turn"]["id"])
            through = server.call("thread/fork", {"threadId": parent,
                                                  "lastTurnId": turn_ids[0]})
            before = server.call("thread/fork", {"threadId": parent,
                                                 "beforeTurnId": turn_ids[2]})
            both = server.call("thread/fork", {"threadId": parent, "lastTurnId": turn_ids[0],
                                               "beforeTurnId": turn_ids[2]})
            assert both["error"]["message"] == "beforeTurnId cannot be combined with lastTurnId"
            kept = {}
            for answer in (through, before):
                thread = answer["result"]["thread"]
                kept[thread["id"]] = [turn["id"] for turn in thread["turns"]]
                drive_turn(server, thread["id"], "four")
        bodies = [request.body for request in model.model_requests()]
    assert list(kept.values()) == [turn_ids[:1], turn_ids[:2]]
    texts = [[part["text"] for item in body["input"] if item.get("role") == "user"
              for part in item["content"] if not part["text"].startswith("<")]
             for body in bodies[-2:]]
    assert texts == [["one", "four"], ["one", "two", "four"]]
