"""The model's questions over the wire: ``turn/start`` with ``collaborationMode`` plan, the
``item/tool/requestUserInput`` server request and the client's answer, as Codex 0.169's
app-server did them with the same scripted model (``fixtures/codex-plan``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.app_server_client import AppServer, drive_turn, make_home
from support.app_server_schema import FIXTURES, check_response
from support.model_server import scripted

KEY = {"LLMX_TEST_MODEL_KEY": "k"}
PLAN = FIXTURES / "codex-plan"
SCRIPT = json.loads((PLAN / "request_user_input.mock-script.json").read_text())
ANSWER = {"answers": {"db_choice": {"answers": ["SQLite"]}}}
_ASKING = ("thread/status/changed", "item/tool/requestUserInput", "serverRequest/resolved")


def _mode(name: str) -> dict[str, Any]:
    return {"collaborationMode": {"mode": name, "settings": {"model": "mock-model",
                                                             "developer_instructions": None}}}


def _asking(messages: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """The status changes, questions and resolutions of a turn, in order (ids aside)."""
    seen = []
    for message in messages:
        method = message.get("method")
        if method == "thread/status/changed":
            seen.append((method, message["params"]["status"]))
        elif method == "item/tool/requestUserInput":
            params = message["params"]
            seen.append((method, {"questions": params["questions"],
                                  "isBlocking": params["isBlocking"],
                                  "autoResolutionMs": params["autoResolutionMs"]}))
        elif method == "serverRequest/resolved":
            seen.append((method, None))
    return seen


def _codex_turns() -> list[list[dict[str, Any]]]:
    """Codex's server->client messages, one list per turn."""
    turns: list[list[dict[str, Any]]] = [[]]
    for line in (PLAN / "appserver_plan_request_user_input.jsonrpc.jsonl").read_text() \
            .splitlines():
        record = json.loads(line)
        if record["dir"] != "server->client":
            continue
        turns[-1].append(record["msg"])
        if record["msg"].get("method") == "turn/completed":
            turns.append([])
    return turns[:-1]


def _mode_messages(body: dict[str, Any]) -> list[str]:
    found = []
    for item in body["input"]:
        for part in item.get("content", []) if item.get("role") == "developer" else []:
            text = part.get("text", "")
            if text.startswith("<collaboration_mode>"):
                found.append("plan" if "plan mode" in text[:60].lower() else "default")
    return found


def test_plan_mode_asks_the_client_as_codex_does(tmp_path: Path) -> None:
    asked: list[dict[str, Any]] = []

    def answer(method: str, params: dict[str, Any]) -> Any:
        assert method == "item/tool/requestUserInput"
        asked.append(params)
        return ANSWER

    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = tmp_path / "work"
        work.mkdir()
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            thread_id = server.start_thread(cwd=str(work))
            first = drive_turn(server, thread_id, "which database?", answer,
                               settings=_mode("plan"))
            second = drive_turn(server, thread_id, "now do it", settings=_mode("default"))
            drive_turn(server, thread_id, "and then")
        bodies = [request.body for request in model.model_requests()]
    codex = _codex_turns()
    assert _asking(first) == _asking(codex[0])
    assert _asking(second) == _asking(codex[1]) == [
        ("thread/status/changed", {"type": "active", "activeFlags": []}),
        ("thread/status/changed", {"type": "idle"})]
    [params] = asked
    assert params["threadId"] == thread_id
    assert params["turnId"] == next(m["result"]["turn"]["id"] for m in first
                                    if "result" in m and "turn" in m["result"])
    codex_bodies = [json.loads(line)["body"] for line in
                    (PLAN / "appserver_plan_request_user_input.requests.jsonl")
                    .read_text().splitlines()]
    outputs = [[item["output"] for item in body["input"]
                if item.get("type") == "function_call_output"] for body in bodies]
    codex_outputs = [[item["output"] for item in body["input"]
                      if item.get("type") == "function_call_output"] for body in codex_bodies]
    assert outputs == codex_outputs
    assert [_mode_messages(body) for body in bodies] == [
        _mode_messages(body) for body in codex_bodies]
    [rollout] = sorted((home / "sessions").rglob("rollout-*.jsonl"))
    records = [json.loads(line) for line in rollout.read_text().splitlines()]
    [answered] = [r["payload"] for r in records if r["type"] == "submission"
                  and r["payload"]["op"]["type"] == "user_input_answer"]
    assert answered["decided_by"] == "client"
    assert answered["op"] == {"type": "user_input_answer", "id": params["turnId"],
                              "response": ANSWER}


def test_an_empty_answer_is_no_answer(tmp_path: Path) -> None:
    """The Python SDK answers every request it does not know with ``{}``."""
    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = tmp_path / "work"
        work.mkdir()
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            thread_id = server.start_thread(cwd=str(work))
            done = drive_turn(server, thread_id, "which database?", lambda *_: {},
                              settings=_mode("plan"))
        bodies = [request.body for request in model.model_requests()]
    assert done[-1]["params"]["turn"]["status"] == "completed"
    assert [item["output"] for item in bodies[1]["input"]
            if item.get("type") == "function_call_output"] == ['{"answers":{}}']


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    with AppServer(home, work, env=KEY) as server:
        server.initialize()
        thread_id = server.start_thread(cwd=str(work))
        refused = server.call("turn/start", {
            "threadId": thread_id, "input": [{"type": "text", "text": "x"}],
            "collaborationMode": {"mode": "execute", "settings": {"model": "m"}}})
    assert refused["error"]["message"] == "Invalid request: unknown variant `execute`"


def test_thread_resume_answers_with_the_mode_the_thread_goes_on_in(tmp_path: Path) -> None:
    def answer(method: str, params: dict[str, Any]) -> Any:
        return ANSWER

    def resume(server: AppServer, thread_id: str) -> dict[str, Any]:
        result: dict[str, Any] = server.call("thread/resume", {"threadId": thread_id})["result"]
        check_response("thread/resume", result)
        return result

    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = tmp_path / "work"
        work.mkdir()
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            thread_id = server.start_thread(cwd=str(work))
            drive_turn(server, thread_id, "which database?", answer, settings=_mode("plan"))
            # Loaded: the mode of its last turn.
            loaded = resume(server, thread_id)
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            # From the file: the mode its last turn recorded.
            recorded = resume(server, thread_id)
            drive_turn(server, thread_id, "now do it", settings=_mode("default"))
            switched = resume(server, thread_id)
    for result in (loaded, recorded):
        mode = result["collaborationMode"]
        assert mode["mode"] == "plan"
        assert mode["settings"]["model"] == "mock-model"
        assert mode["settings"]["reasoning_effort"] is None
        assert "Plan" in mode["settings"]["developer_instructions"]
    assert switched["collaborationMode"]["mode"] == "default"
    assert switched["collaborationMode"]["settings"]["model"] == "mock-model"
