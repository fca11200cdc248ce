"""A form an MCP server asks the user to fill in (an elicitation with a schema of fields),
from the SDK-built calc server's ``signup`` tool: forwarded by ``llmx app-server`` to its
client with the schema as Codex forwards it, the client's content held to the schema
(content that does not fit is refused in one line and asked again), the answer given to
the server and recorded with who decided; ``llmx exec`` cancels it as Codex's exec does
and says so; Codex 0.169 resumes a session with a form on record. The checks of the form
module itself come first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from e2e.exec_harness import events, make_env, rollout_lines
from interop.codex_cli import CODEX, needs_codex
from support.app_server_client import AppServer, drive_turn, make_home
from support.model_scripts import Script
from support.model_server import ModelServer, scripted
from support.waits import WAIT_SECONDS

from llmx.events.reader import read_rollout
from llmx.projections.app_server import fold_rollout
from llmx.runtime.mcp.forms import FormError, check_content, form_fields, parse_answer
from mcp_tests.mcp_harness import stdio_table

KEY = {"LLMX_TEST_MODEL_KEY": "k"}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "title": "Name", "minLength": 1},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "ratio": {"type": "number"},
        "color": {"type": "string", "enum": ["red", "green"], "enumNames": ["Red", "Green"]},
        "size": {"type": "string", "oneOf": [{"const": "s", "title": "Small"},
                                            {"const": "l", "title": "Large"}]},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
        "mail": {"type": "string", "format": "email"},
        "ok": {"type": "boolean"},
    },
    "required": ["name", "age"],
}
SIGNUP = {"name": "Ann", "age": 30, "color": "green", "newsletter": True}


def _field(name: str) -> Any:
    return next(field for field in form_fields(SCHEMA) if field.name == name)


@pytest.mark.parametrize(("name", "typed", "value"), [
    ("name", " Ann ", "Ann"), ("age", "42", 42), ("ratio", "2.5", 2.5), ("ratio", "3", 3),
    ("color", "Green", "green"), ("color", "1", "red"), ("size", "Large", "l"),
    ("tags", "a, b", ["a", "b"]), ("mail", "a@b.io", "a@b.io"), ("ok", "yes", True),
    ("ok", "n", False), ("mail", "", None),
])
def test_a_typed_answer_becomes_a_value_of_its_field(name: str, typed: str, value: Any) -> None:
    assert parse_answer(_field(name), typed) == value


@pytest.mark.parametrize(("name", "typed", "said"), [
    ("age", "old", "field `age`: 'old' is not an integer"),
    ("age", "200", "field `age`: 200 is above the maximum 150"),
    ("age", "", "field `age` is required"),
    ("color", "blue", "field `color`: 'blue' is not one of: red (Red), green (Green)"),
    ("ok", "maybe", "field `ok`: answer yes or no"),
    ("mail", "nobody", "field `mail`: 'nobody' is not a valid email"),
    ("tags", "a, c", "field `tags`: 'c' is not one or more of, comma-separated: a, b"),
])
def test_a_typed_answer_that_does_not_fit_says_why(name: str, typed: str, said: str) -> None:
    with pytest.raises(FormError) as raised:
        parse_answer(_field(name), typed)
    assert str(raised.value) == said


@pytest.mark.parametrize(("content", "said"), [
    ({"name": "Ann", "age": 3}, None),
    ({"name": "Ann", "age": 3.0, "ok": True, "tags": ["b"]}, None),
    ({"name": "Ann"}, "field `age` is required"),
    ({"name": "Ann", "age": "3"}, "field `age`: expected an integer"),
    ({"name": "Ann", "age": True}, "field `age`: expected an integer"),
    ({"name": "", "age": 3}, "field `name`: at least 1 characters"),
    ({"name": "Ann", "age": 3, "color": "blue"}, "field `color`: expected one of: "
     "red (Red), green (Green)"),
    ({"name": "Ann", "age": 3, "extra": 1}, "field `extra` is not in the form"),
    (["Ann"], "the answer's content must be an object of the form's fields"),
    (None, "the answer's content must be an object of the form's fields"),
])
def test_a_whole_answer_is_held_to_the_schema(content: Any, said: str | None) -> None:
    assert check_content(SCHEMA, content) == said


def test_a_field_of_no_primitive_type_cannot_be_asked() -> None:
    with pytest.raises(FormError, match="field `where`: type 'object' cannot be asked"):
        form_fields({"type": "object", "properties": {"where": {"type": "object"}}})


def _signup_turns() -> dict[str, Any]:
    return {"turns": [
        [{"type": "function_call", "name": "signup", "namespace": "mcp__calc",
          "arguments": {}}],
        [{"type": "message", "text": "Done."}],
    ]}


def _app_server_turn(tmp_path: Path, answers: list[dict[str, Any]]) -> tuple[
        list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """A turn whose model calls ``signup``; the client answers the form with ``answers``
    in turn. The requests asked, every message read, the rollout's lines, the text the
    model got back."""
    asked: list[dict[str, Any]] = []

    def decide(method: str, params: dict[str, Any]) -> dict[str, Any]:
        assert method == "mcpServer/elicitation/request"
        asked.append(params)
        return answers[len(asked) - 1]

    with scripted(_signup_turns()) as model:
        home = make_home(tmp_path, model.base_url, stdio_table(
            required=True, default_tools_approval_mode="approve"))
        work = tmp_path / "project"
        work.mkdir()
        subprocess.run(["git", "init", "-q", str(work)], check=True, timeout=WAIT_SECONDS)
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            thread_id = server.start_thread(approvalPolicy="on-request",
                                            sandbox="workspace-write")
            seen = drive_turn(server, thread_id, "sign me up", decide)
        sent = model.model_requests()[-1].body["input"]
    outputs = [str(item["output"]) for item in sent if item.get("type") == "function_call_output"]
    [path] = (home / "sessions").rglob(f"rollout-*-{thread_id}.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return asked, seen, lines, outputs


def _answers(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line["payload"] for line in lines if line["type"] == "submission"
            and line["payload"]["op"]["type"] == "resolve_elicitation"]


def test_the_app_server_forwards_a_form_and_gives_the_server_its_content(
    tmp_path: Path,
) -> None:
    asked, seen, lines, outputs = _app_server_turn(
        tmp_path, [{"action": "accept", "content": SIGNUP}])
    [params] = asked
    # As Codex forwards it: the form's schema as the server sent it.
    assert params["serverName"] == "calc"
    assert params["mode"] == "form"
    assert params["message"] == "Sign up for the launch"
    schema = params["requestedSchema"]
    assert schema["required"] == ["name", "age", "color"]
    assert schema["properties"]["age"] == {"maximum": 150, "minimum": 0, "title": "Age",
                                           "type": "integer"}
    assert schema["properties"]["color"]["enum"] == ["red", "green", "blue"]
    assert "_meta" not in params
    assert any(m.get("method") == "serverRequest/resolved" for m in seen)
    # The server got the content, and the model what the tool made of it.
    assert any('accept: {\\"name\\":\\"Ann\\",\\"age\\":30,\\"color\\":\\"green\\",'
               '\\"newsletter\\":true}' in output for output in outputs), outputs
    # On record: the question with its form, the answer with its content and who decided.
    [request] = [line["payload"] for line in lines if line["type"] == "event_msg"
                 and line["payload"]["type"] == "elicitation_request"]
    assert request["message"] == "Sign up for the launch"
    assert request["request"]["mode"] == "form"
    assert request["request"]["requested_schema"] == schema
    [answer] = _answers(lines)
    assert answer["op"]["request_id"] == request["id"]
    assert answer["op"]["decision"] == "accept"
    assert answer["op"]["content"] == SIGNUP
    assert answer["decided_by"] == "client"


def test_content_that_does_not_fit_the_form_is_refused_and_asked_again(
    tmp_path: Path,
) -> None:
    asked, seen, lines, outputs = _app_server_turn(tmp_path, [
        {"action": "accept", "content": {**SIGNUP, "age": "thirty"}},
        {"action": "accept", "content": SIGNUP},
    ])
    assert len(asked) == 2
    assert asked[0] == asked[1]
    warnings = [m["params"]["message"] for m in seen if m.get("method") == "warning"]
    assert len(warnings) == 1
    assert warnings[0].endswith("was refused: field `age`: expected an integer; answer again")
    assert "\n" not in warnings[0]
    # Only the answer that fits is on record, and the server got it.
    [answer] = _answers(lines)
    assert answer["op"]["content"] == SIGNUP
    assert any("accept: " in output for output in outputs), outputs


def test_a_client_that_keeps_sending_bad_content_declines_the_form(tmp_path: Path) -> None:
    bad = {"action": "accept", "content": {"name": "Ann"}}
    asked, seen, lines, outputs = _app_server_turn(tmp_path, [bad, bad, bad])
    assert len(asked) == 3
    warnings = [m["params"]["message"] for m in seen if m.get("method") == "warning"]
    assert warnings[-1].endswith("field `age` is required; the form is declined")
    [answer] = _answers(lines)
    assert (answer["op"]["decision"], answer["decided_by"]) == ("decline", "client")
    assert "content" not in answer["op"]
    assert any("answer: decline" in output for output in outputs), outputs


@pytest.mark.parametrize("action", ["decline", "cancel"])
def test_a_form_declined_or_cancelled_by_the_client(tmp_path: Path, action: str) -> None:
    _, _, lines, outputs = _app_server_turn(tmp_path, [{"action": action, "content": None}])
    [answer] = _answers(lines)
    assert answer["op"]["decision"] == action
    assert any(f"answer: {action}" in output for output in outputs), outputs


def test_exec_cancels_a_form_and_says_so(tmp_path: Path) -> None:
    with ModelServer(Script.from_json(_signup_turns())) as server:
        env = make_env(tmp_path, server.base_url, config_extra=stdio_table(
            required=True, default_tools_approval_mode="approve"))
        # An answer given in advance is an approval's: the form does not take it.
        live = env.run("--approval-decision", "approved", "sign me up")
        assert live.returncode == 0, live.stderr
        sent = server.model_requests()[-1].body["input"]
    outputs = [str(item["output"]) for item in sent if item.get("type") == "function_call_output"]
    assert any("answer: cancel" in output for output in outputs), outputs
    assert ("MCP server `calc` asked for a form (Sign up for the launch): auto-cancelling "
            "(not supported in exec mode") in live.stderr
    [rollout] = env.rollouts()
    [request] = events(rollout, "elicitation_request")
    assert request["request"]["requested_schema"]["required"] == ["name", "age", "color"]
    [answer] = _answers(rollout_lines(rollout))
    assert (answer["op"]["decision"], answer["decided_by"]) == ("cancel", "unattended")


@needs_codex
def test_codex_resumes_an_llmx_session_with_a_form_on_record(tmp_path: Path) -> None:
    assert CODEX is not None
    with ModelServer(Script.from_json(_signup_turns())) as server:
        env = make_env(tmp_path, server.base_url, config_extra=stdio_table(
            required=True, default_tools_approval_mode="approve"))
        live = env.run("sign me up")
        assert live.returncode == 0, live.stderr
    [rollout] = env.rollouts()
    assert len(events(rollout, "elicitation_request")) == 1
    thread_id = json.loads(rollout.read_text().splitlines()[0])["payload"]["id"]
    with scripted({"turns": [[{"type": "message", "text": "still here"}]]}) as model:
        (env.home / "config.toml").write_text(
            'model = "mock-model"\nmodel_provider = "mock"\n[model_providers.mock]\n'
            f'name = "mock"\nbase_url = "{model.base_url}"\n'
            'wire_api = "responses"\nenv_key = "MOCK_API_KEY"\n')
        result = subprocess.run(
            [CODEX, "exec", "resume", thread_id, "are you there"], cwd=env.workspace,
            env={**os.environ, "CODEX_HOME": str(env.home), "MOCK_API_KEY": "test"},
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False)
        sent = model.model_requests()[-1].body["input"]
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("still here")
    outputs = [str(item["output"]) for item in sent if item.get("type") == "function_call_output"]
    assert any("answer: cancel" in output for output in outputs), outputs


def test_a_question_in_codexs_newer_shape_alone_is_read(tmp_path: Path) -> None:
    with ModelServer(Script.from_json(_signup_turns())) as server:
        env = make_env(tmp_path, server.base_url, config_extra=stdio_table(
            required=True, default_tools_approval_mode="approve"))
        assert env.run("sign me up").returncode == 0
    [rollout] = env.rollouts()
    # Newer Codex writes the question as ``request`` only, without ``message``.
    lines = [json.loads(line) for line in rollout.read_text().splitlines()]
    for line in lines:
        if line["type"] == "event_msg" and line["payload"]["type"] == "elicitation_request":
            del line["payload"]["message"]
    rollout.write_text("".join(json.dumps(line) + "\n" for line in lines))
    _, folded = fold_rollout(read_rollout(rollout))
    [asked] = [m for m in folded if getattr(m, "method", None) == "mcpServer/elicitation/request"]
    assert asked.params["message"] == "Sign up for the launch"
    assert asked.params["requestedSchema"]["required"] == ["name", "age", "color"]
    replayed = subprocess.run(
        [sys.executable, "-m", "llmx", "replay", str(rollout)], capture_output=True, text=True,
        env=env.env(), timeout=WAIT_SECONDS, check=False)
    assert replayed.returncode == 0, replayed.stderr
    assert "reason: Sign up for the launch" in replayed.stderr + replayed.stdout
