"""The loopback test model server itself: script semantics, request log, process mode."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import CODEX_FIXTURES, CODEX_RICH_FIXTURES, PROJECT_ROOT
from support.model_scripts import Script
from support.model_server import ModelServer, scripted

SERVER_SCRIPT = PROJECT_ROOT / "tests" / "support" / "model_server.py"
ALL_SCRIPTS = sorted(CODEX_FIXTURES.glob("mock-scripts/*.json")) + sorted(
    CODEX_RICH_FIXTURES.glob("mock-scripts/*.json")
)


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def tool(name: str) -> dict[str, Any]:
    return {"type": "function", "name": name, "parameters": {"type": "object"}}


def sse_json(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in text.splitlines()
            if line.startswith("data: ") and line != "data: [DONE]"]


def done_items(server: ModelServer, body: dict[str, Any]) -> list[dict[str, Any]]:
    answer = httpx.post(f"{server.base_url}/responses", json={"stream": True, **body})
    assert answer.status_code == 200
    return [e["item"] for e in sse_json(answer.text) if e["type"] == "response.output_item.done"]


def test_turns_are_used_in_order_then_the_fallback_repeats() -> None:
    script = {"turns": [[{"type": "message", "text": "one"}], [{"type": "message", "text": "two"}]],
              "fallback": [{"type": "message", "text": "again"}]}
    with scripted(script) as server:
        texts = [done_items(server, {"input": [user("x")]})[0]["content"][0]["text"]
                 for _ in range(4)]
    assert texts == ["one", "two", "again", "again"]


def test_match_picks_the_first_unused_turn_for_the_last_user_text() -> None:
    script = Script.load(CODEX_RICH_FIXTURES / "mock-scripts" / "fork_and_revert.json")
    with ModelServer(script) as server:
        third = done_items(server, {"input": [user("turn three please")]})
        first = done_items(server, {"input": [user("earlier"), user("now turn one")]})
        second = done_items(server, {"input": [user("turn one"),
                                               {"type": "function_call_output",
                                                "call_id": "c", "output": "ok"}]})
        fallback = done_items(server, {"input": [user("turn three please")]})
    assert third[0]["content"][0]["text"] == "Third answer."
    assert first[0]["type"] == "function_call"
    assert second[0]["content"][0]["text"] == "Wrote one.txt."
    assert fallback[0]["content"][0]["text"] == "(fallback)"


@pytest.mark.parametrize(
    ("offered", "name", "arguments"),
    [
        (["exec_command", "write_stdin"], "exec_command", {"cmd": "echo hi"}),
        (["shell_command"], "shell_command", {"command": "echo hi"}),
        (["shell"], "shell", {"command": ["bash", "-lc", "echo hi"]}),
    ],
)
def test_the_shell_item_uses_the_shell_tool_the_request_offers(
    offered: list[str], name: str, arguments: dict[str, Any]
) -> None:
    with scripted({"turns": [[{"type": "shell", "command": "echo hi"}]]}) as server:
        [call] = done_items(server, {"input": [user("x")], "tools": [tool(n) for n in offered]})
    assert call["name"] == name
    assert json.loads(call["arguments"]) == arguments


def test_extra_shell_keys_become_arguments_and_session_ids_are_filled_in() -> None:
    script = Script.load(CODEX_RICH_FIXTURES / "mock-scripts" / "exec_background_poll.json")
    with ModelServer(script) as server:
        [_, first] = done_items(server, {"input": [user("run the build")],
                                         "tools": [tool("exec_command")]})
        poll_input = [user("run the build"),
                      {"type": "function_call_output", "call_id": first["call_id"],
                       "output": "Process running with session ID 39107"}]
        [second] = done_items(server, {"input": poll_input})
    assert json.loads(first["arguments"]) == {
        "cmd": "echo compiling; sleep 4; echo build ok", "yield_time_ms": 1000
    }
    assert json.loads(second["arguments"])["session_id"] == 39107


def test_error_turns_answer_the_status_body_and_retry_after() -> None:
    script = {"turns": [{"status": 429, "error": "slow down", "code": "rate_limit_exceeded",
                         "retry_after": 2, "items": []}]}
    with scripted(script) as server:
        answer = httpx.post(f"{server.base_url}/responses", json={"input": []})
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "2"
    assert answer.json() == {"error": {"message": "slow down", "type": "server_error",
                                       "code": "rate_limit_exceeded"}}


def test_every_request_is_logged_with_headers_and_body() -> None:
    with scripted({"turns": [], "fallback": [{"type": "message", "text": "hi"}]}) as server:
        httpx.post(f"{server.base_url}/responses", json={"input": [user("a")]},
                   headers={"originator": "probe"})
        httpx.get(f"{server.base_url}/models")
        logged = server.requests
    assert [(r.method, r.path) for r in logged] == [("POST", "/v1/responses"),
                                                    ("GET", "/v1/models")]
    assert logged[0].headers["originator"] == "probe"
    assert logged[0].body == {"input": [user("a")]}
    assert server.model_requests() == logged[:1]


def test_non_streaming_answers() -> None:
    script = {"turns": [], "fallback": [{"type": "message", "text": "plain"}]}
    with scripted(script) as server:
        response = httpx.post(f"{server.base_url}/responses", json={"stream": False}).json()
        chat = httpx.post(f"{server.base_url}/chat/completions",
                          json={"stream": False, "messages": []}).json()
    assert response["output"][0]["content"][0]["text"] == "plain"
    assert response["usage"]["total_tokens"] == 110
    assert chat["choices"][0]["message"]["content"] == "plain"


@pytest.mark.parametrize("path", ALL_SCRIPTS, ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_every_codex_mock_script_drives_the_server(path: Path) -> None:
    script = Script.load(path)
    body = {"input": [user("Generate a concise, single-line task title")],
            "tools": [tool("exec_command")], "stream": True}
    with ModelServer(script) as server:
        for wire in ("responses", "chat/completions"):
            answer = httpx.post(f"{server.base_url}/{wire}", json=body)
            assert answer.status_code in (200, 400, 500)
            if answer.status_code == 200:
                assert answer.headers["content-type"] == "text/event-stream"
                assert sse_json(answer.text)


def test_process_mode_writes_its_port_and_log_and_stops_on_sigterm(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    log = tmp_path / "requests.jsonl"
    script = CODEX_FIXTURES / "mock-scripts" / "say_hi.json"
    process = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), "--script", str(script),
         "--port-file", str(port_file), "--log", str(log)],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": ""},
    )
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists():
            assert process.poll() is None, "the server exited before listening"
            assert time.monotonic() < deadline, "the server never wrote its port file"
            time.sleep(0.02)
        port = int(port_file.read_text())
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/responses",
                            json={"input": [user("say hi")], "stream": True})
        texts = [e["delta"] for e in sse_json(answer.text)
                 if e["type"] == "response.output_text.delta"]
        assert "".join(texts) == "Hi! (from the mock)"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    assert f"port={port}" in stderr
    [entry] = [json.loads(line) for line in log.read_text().splitlines()]
    assert entry["method"] == "POST"
    assert entry["path"] == "/v1/responses"
    assert entry["body"]["input"] == [user("say hi")]


def test_process_mode_rejects_a_missing_script(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SERVER_SCRIPT), "--script", str(tmp_path / "nope.json")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "cannot load script" in result.stderr
