"""``llmx exec`` calling tools of real MCP servers (the SDK-built calc server), over stdio
and streamable HTTP on loopback: results sent back to the model and recorded, failures
(a crash mid-call, a hang past ``tool_timeout_sec``, a tool error), approvals, a slow
optional server that joins a later request, a required server that does not start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from e2e.exec_harness import (
    assert_replay_equals_live,
    completed_items,
    events,
    make_env,
    rollout_lines,
)
from support import expected_install_hint
from support.model_scripts import Script
from support.model_server import ModelServer

from mcp_tests.mcp_harness import http_server, http_table, stdio_table


def _call(tool: str, arguments: dict[str, Any], namespace: str = "mcp__calc") -> dict[str, Any]:
    return {"type": "function_call", "name": tool, "namespace": namespace,
            "arguments": arguments}


def _script(*calls: dict[str, Any]) -> Script:
    turns: list[Any] = [[call] for call in calls]
    turns.append([{"type": "message", "text": "Done."}])
    return Script.from_json({"turns": turns})


def _outputs(server: ModelServer) -> list[str]:
    body = server.model_requests()[-1].body
    return [item["output"] for item in body["input"] if item["type"] == "function_call_output"]


def _item_lines(rollout: Path, item_type: str) -> list[tuple[str, dict[str, Any]]]:
    return [(line["payload"]["type"], line["payload"]["item"]) for line in rollout_lines(rollout)
            if line["type"] == "event_msg"
            and line["payload"]["type"] in ("item_started", "item_completed")
            and line["payload"]["item"]["type"] == item_type]


def test_a_stdio_tool_call_is_sent_back_and_recorded(tmp_path: Path) -> None:
    with ModelServer(_script(_call("add", {"a": 2, "b": 3}))) as server:
        env = make_env(tmp_path, server.base_url, config_extra=stdio_table(
            required=True, default_tools_approval_mode="approve"))
        live = env.run("add 2 and 3 with the calc tool")
        assert live.returncode == 0, live.stderr
        [output] = _outputs(server)
        first_tools = server.model_requests()[0].body["tools"]
    # Offered as Codex offers them: one namespace tool holding the server's tools.
    [namespace] = [tool for tool in first_tools if tool["type"] == "namespace"]
    assert namespace["name"] == "mcp__calc"
    assert namespace["description"] == "A tiny calculator."
    add = next(tool for tool in namespace["tools"] if tool["name"] == "add")
    assert add["parameters"]["required"] == ["a", "b"]
    assert output.startswith("Wall time: ")
    assert output.endswith('\nOutput:\n{"result":5}')
    [rollout] = env.rollouts()
    (started_kind, started), (done_kind, done) = _item_lines(rollout, "McpToolCall")
    assert (started_kind, started["status"]) == ("item_started", "inProgress")
    assert done_kind == "item_completed"
    assert (done["server"], done["tool"], done["arguments"]) == ("calc", "add", {"a": 2, "b": 3})
    assert done["status"] == "completed"
    assert done["result"]["structuredContent"] == {"result": 5}
    assert done["result"]["content"] == [{"type": "text", "text": "5"}]
    assert set(done["duration"]) == {"secs", "nanos"}
    assert "mcp: calc/add started" in live.stderr
    assert "mcp: calc/add (completed)" in live.stderr
    assert_replay_equals_live(env, rollout, live)


def test_a_streamable_http_tool_call_in_json_output(tmp_path: Path) -> None:
    with http_server() as url, ModelServer(_script(_call("add", {"a": 20, "b": 22}))) as server:
        env = make_env(tmp_path, server.base_url, config_extra=http_table(
            url, required=True, default_tools_approval_mode="approve"))
        live = env.run("--json", "add 20 and 22")
        assert live.returncode == 0, live.stderr
        [output] = _outputs(server)
    assert output.endswith('\nOutput:\n{"result":42}')
    lines = [json.loads(line) for line in live.stdout.splitlines()]
    mcp = [line for line in lines if line.get("item", {}).get("type") == "mcp_tool_call"]
    assert [(line["type"], line["item"]["status"]) for line in mcp] == [
        ("item.started", "in_progress"), ("item.completed", "completed")]
    assert mcp[1]["item"]["result"]["structured_content"] == {"result": 42}
    [rollout] = env.rollouts()
    assert_replay_equals_live(env, rollout, live, as_json=True)


def test_crash_hang_and_tool_error_fail_their_calls_and_the_turn_goes_on(
    tmp_path: Path,
) -> None:
    script = _script(_call("fail", {"reason": "no"}), _call("hang", {}, "mcp__hanging"),
                     _call("crash", {}), _call("add", {"a": 1, "b": 1}))
    # The hanging call goes to a second server with a short tool_timeout_sec.
    config = stdio_table(required=True, default_tools_approval_mode="approve") + stdio_table(
        "hanging", required=True, default_tools_approval_mode="approve", tool_timeout_sec=1)
    with ModelServer(script) as server:
        env = make_env(tmp_path, server.base_url, config_extra=config)
        live = env.run("try the tools")
        assert live.returncode == 0, live.stderr
        outputs = _outputs(server)
    [rollout] = env.rollouts()
    calls = completed_items(rollout, "McpToolCall")
    assert [(c["tool"], c["status"]) for c in calls] == [
        ("fail", "failed"), ("hang", "failed"), ("crash", "failed"), ("add", "failed")]
    failed, hung, crashed, after = calls
    # A tool error is the server's answer: kept as its result.
    assert failed["result"]["isError"] is True
    assert failed["result"]["content"] == [{"type": "text", "text": "Error executing tool fail"}]
    assert "timed out after 1 s (tool_timeout_sec)" in hung["error"]["message"]
    assert crashed["error"]["message"].startswith("tool call error:")
    # The server is gone: a later call says so instead of waiting.
    assert after["error"]["message"].startswith("tool call error:")
    assert "timed out after 1 s" in outputs[1]
    assert "Done." in live.stdout
    assert_replay_equals_live(env, rollout, live)


def test_prompt_mode_asks_and_a_declined_call_does_not_run(tmp_path: Path) -> None:
    with ModelServer(_script(_call("add", {"a": 2, "b": 3}))) as server:
        env = make_env(tmp_path, server.base_url, config_extra=stdio_table(
            required=True, default_tools_approval_mode="prompt"))
        live = env.run("-a", "on-request", "-s", "workspace-write",
                       "--approval-decision", "denied", "add 2 and 3")
        assert live.returncode == 0, live.stderr
        [output] = _outputs(server)
    assert output.endswith("\nOutput:\nuser rejected MCP tool call")
    [rollout] = env.rollouts()
    lines = rollout_lines(rollout)
    [request] = events(rollout, "elicitation_request")
    assert request["server_name"] == "calc"
    assert request["message"] == 'Allow the calc MCP server to run tool "add"?'
    [decision] = [line["payload"] for line in lines if line["type"] == "submission"
                  and line["payload"]["op"]["type"] == "resolve_elicitation"]
    assert decision["op"] == {"type": "resolve_elicitation", "server_name": "calc",
                              "request_id": request["id"], "decision": "decline"}
    assert decision["decided_by"] == "preset"
    [call] = completed_items(rollout, "McpToolCall")
    assert call["status"] == "failed"
    assert call["error"] == {"message": "user rejected MCP tool call"}
    assert "approval requested: mcp" in live.stderr
    assert_replay_equals_live(env, rollout, live)


def test_an_approved_call_runs_after_its_decision_is_on_record(tmp_path: Path) -> None:
    with ModelServer(_script(_call("add", {"a": 2, "b": 3}))) as server:
        env = make_env(tmp_path, server.base_url, config_extra=stdio_table(required=True))
        live = env.run("-a", "on-request", "-s", "workspace-write",
                       "--approval-decision", "approved", "add 2 and 3")
        assert live.returncode == 0, live.stderr
    [rollout] = env.rollouts()
    lines = rollout_lines(rollout)
    decided = next(i for i, line in enumerate(lines) if line["type"] == "submission"
                   and line["payload"]["op"]["type"] == "resolve_elicitation")
    assert lines[decided]["payload"]["op"]["decision"] == "accept"
    assert lines[decided]["payload"]["decided_by"] == "preset"
    completed = next(i for i, line in enumerate(lines) if line["type"] == "event_msg"
                     and line["payload"]["type"] == "item_completed"
                     and line["payload"]["item"]["type"] == "McpToolCall")
    assert decided < completed
    assert lines[completed]["payload"]["item"]["status"] == "completed"


def test_auto_mode_needs_approval_under_never_but_not_for_read_only_tools(
    tmp_path: Path,
) -> None:
    with ModelServer(_script(_call("add", {"a": 2, "b": 3}), _call("peek", {}))) as server:
        env = make_env(tmp_path, server.base_url, config_extra=stdio_table(required=True))
        live = env.run("-a", "never", "add and peek")
        assert live.returncode == 0, live.stderr
    [rollout] = env.rollouts()
    add, peek = completed_items(rollout, "McpToolCall")
    assert add["error"] == {
        "message": "MCP tool call requires approval, but approval policy is never"}
    assert peek["status"] == "completed"
    assert events(rollout, "elicitation_request") == []


def test_a_slow_optional_server_joins_a_later_request_and_the_output_says_so(
    tmp_path: Path,
) -> None:
    # The first answer takes long enough for the server to start meanwhile.
    script = Script.from_json({"turns": [
        {"items": [{"type": "function_call", "name": "update_plan",
                    "arguments": {"plan": [{"step": "add", "status": "in_progress"}]}}],
         "delay": 10},
        [_call("add", {"a": 2, "b": 3})],
        [{"type": "message", "text": "Done."}],
    ]})
    with ModelServer(script) as server:
        env = make_env(tmp_path, server.base_url, config_extra=stdio_table(
            default_tools_approval_mode="approve"))
        live = env.run("add 2 and 3")
        assert live.returncode == 0, live.stderr
        requests = server.model_requests()
    kinds = [[tool["type"] for tool in request.body["tools"]] for request in requests]
    assert "namespace" not in kinds[0]
    assert "namespace" in kinds[1]
    [rollout] = env.rollouts()
    states = [update["status"]["state"] for update in events(rollout, "mcp_startup_update")]
    assert states == ["starting", "ready"]
    assert "warning: MCP server `calc` is still starting" in live.stderr
    assert "mcp: calc ready" in live.stderr
    [call] = completed_items(rollout, "McpToolCall")
    assert call["status"] == "completed"


def test_a_required_server_that_does_not_start_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-server"
    with ModelServer(_script()) as server:
        env = make_env(tmp_path, server.base_url,
                       config_extra=f'[mcp_servers.calc]\ncommand = "{missing}"\nrequired = true\n')
        live = env.run("hello")
        assert server.model_requests() == []
    assert live.returncode == 1
    [line] = [line for line in live.stderr.splitlines() if "MCP server" in line]
    assert line.startswith("llmx exec: MCP server `calc` is required but did not start: ")
    assert line.endswith("fix [mcp_servers.calc] in config.toml, or set required = false")
    assert "Traceback" not in live.stderr
    assert env.rollouts() == []


def test_a_stdio_server_gets_a_restricted_environment(tmp_path: Path) -> None:
    env_file = tmp_path / "server-env.json"
    with ModelServer(_script(_call("env", {}))) as server:
        env = make_env(tmp_path, server.base_url, config_extra=stdio_table(
            required=True, default_tools_approval_mode="approve", env_vars=["PASSED_ON"],
            env={"CALC_ENV_FILE": str(env_file)}))
        live = env.run("show env", env=env.env(PASSED_ON="yes", KEPT_BACK="secret"))
        assert live.returncode == 0, live.stderr
    seen = json.loads(env_file.read_text())
    assert seen["env"]["PASSED_ON"] == "yes"
    assert "KEPT_BACK" not in seen["env"]
    assert "LLMX_HOME" not in seen["env"]
    assert seen["env"]["PATH"]
    # Started in the thread's working directory.
    assert Path(seen["cwd"]) == env.workspace


def test_a_server_question_during_a_call_is_asked_as_approvals_are(tmp_path: Path) -> None:
    script = _script(_call("launch", {}), _call("launch", {}))
    with ModelServer(script) as server:
        env = make_env(tmp_path, server.base_url, config_extra=stdio_table(
            required=True, default_tools_approval_mode="approve"))
        live = env.run("--approval-decision", "approved", "launch twice")
        assert live.returncode == 0, live.stderr
        outputs = _outputs(server)
    # The first question was answered yes; the second (no scripted answer left) no.
    assert outputs[0].endswith('\nOutput:\n{"result":"answer: accept"}')
    assert outputs[1].endswith('\nOutput:\n{"result":"answer: decline"}')
    [rollout] = env.rollouts()
    asked = events(rollout, "elicitation_request")
    assert [(a["server_name"], a["message"]) for a in asked] == [
        ("calc", "Launch the rocket?"), ("calc", "Launch the rocket?")]
    answers = [line["payload"] for line in rollout_lines(rollout) if line["type"] == "submission"
               and line["payload"]["op"]["type"] == "resolve_elicitation"]
    assert [(a["op"]["request_id"], a["op"]["decision"], a["decided_by"]) for a in answers] == [
        (asked[0]["id"], "accept", "preset"), (asked[1]["id"], "decline", "unattended")]
    assert "approval requested: mcp\ncalc\nreason: Launch the rocket?\n" in live.stderr


def test_without_the_sdk_a_server_is_not_blamed_and_the_output_says_what_to_install(
    tmp_path: Path,
) -> None:
    """[mcp_servers] configured where llmx's mcp extra is not installed: a folder shadowing
    the SDK with a package that cannot be imported stands for its absence. The turn runs
    without the server's tools, and the warning says llmx lacks the SDK (the server was
    never started) and what installs it."""
    shadow = tmp_path / "shadow" / "mcp"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'mcp'\")\n")
    (tmp_path / "run").mkdir()
    with ModelServer(_script()) as server:
        env = make_env(tmp_path / "run", server.base_url, config_extra=stdio_table())
        live = env.run("hello", env=env.env(PYTHONPATH=str(shadow.parent)))
        tools = [tool["type"] for tool in server.model_requests()[0].body["tools"]]
    assert live.returncode == 0, live.stderr
    assert "namespace" not in tools
    [line] = [line for line in live.stderr.splitlines() if "MCP server" in line]
    assert line == ("warning: MCP server `calc` failed to start: llmx cannot start MCP "
                    "servers without the MCP SDK (No module named 'mcp'): "
                    f"{expected_install_hint('mcp')}; its tools are not offered")
    assert "Traceback" not in live.stderr
