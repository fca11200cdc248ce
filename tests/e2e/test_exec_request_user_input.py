"""``llmx exec`` has nobody to ask: like ``codex exec`` (Default mode), a
``request_user_input`` call is answered that the tool is unavailable, and the turn goes on
(compared with Codex 0.169's run of the same script, ``fixtures/codex-plan``)."""

from __future__ import annotations

import json
from pathlib import Path

from e2e.exec_harness import assert_replay_equals_live, make_env, rollout_lines
from support.app_server_schema import FIXTURES
from support.model_scripts import Script
from support.model_server import ModelServer

PLAN = FIXTURES / "codex-plan"


def _outputs(body: dict[str, object]) -> list[object]:
    items = body["input"]
    assert isinstance(items, list)
    return [item["output"] for item in items if item.get("type") == "function_call_output"]


def test_exec_tells_the_model_nobody_can_be_asked(tmp_path: Path) -> None:
    script = json.loads((PLAN / "request_user_input.mock-script.json").read_text())
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        live = env.run("--json", "which database?")
        assert live.returncode == 0, live.stderr
        bodies = [request.body for request in server.model_requests()]
    codex = [json.loads(line)["body"] for line in
             (PLAN / "exec_request_user_input_json.requests.jsonl").read_text().splitlines()]
    assert [_outputs(body) for body in bodies] == [_outputs(body) for body in codex]
    codex_events = [json.loads(line) for line in
                    (PLAN / "exec_request_user_input_json.jsonl").read_text().splitlines()]
    events = [json.loads(line) for line in live.stdout.splitlines()]

    def shape(stream: list[dict[str, object]]) -> list[object]:
        # Codex's warning about its model metadata aside.
        return [(e["type"], e.get("item", {}).get("type"), e.get("item", {}).get("text"))
                for e in stream if e.get("item", {}).get("type") != "error"]

    assert shape(events) == shape(codex_events)
    [rollout] = env.rollouts()
    assert not [line for line in rollout_lines(rollout)
                if line["payload"].get("type") == "request_user_input"]
    assert_replay_equals_live(env, rollout, live, as_json=True)


def test_exec_resume_of_a_plan_mode_thread_answers_nothing(tmp_path: Path) -> None:
    """Codex's own Plan-mode thread, resumed by ``exec resume``: as Codex's exec does
    (``exec_resume_plan_json``), the turn runs in Plan mode and the model's question gets
    no answers; the log says nobody could be asked."""
    lines = (PLAN / "appserver_plan_request_user_input.rollout.jsonl").read_text().splitlines()
    first_end = next(i for i, line in enumerate(lines)
                     if json.loads(line)["payload"].get("type") == "task_complete")
    thread_id = json.loads(lines[0])["payload"]["id"]
    script = json.loads((PLAN / "request_user_input.mock-script.json").read_text())
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        day = env.home / "sessions" / "2026" / "12" / "05"
        day.mkdir(parents=True)
        rollout = day / f"rollout-2026-12-05T16-34-40-{thread_id}.jsonl"
        rollout.write_text("\n".join(lines[: first_end + 1]) + "\n")
        live = env.run("--json", "resume", thread_id, "again")
        assert live.returncode == 0, live.stderr
        bodies = [request.body for request in server.model_requests()]
    codex = [json.loads(line)["body"] for line in
             (PLAN / "exec_resume_plan_json.requests.jsonl").read_text().splitlines()]
    assert _outputs(bodies[-1]) == _outputs(codex[-1]) == [
        '{"answers":{"db_choice":{"answers":["SQLite"]}}}', '{"answers":{}}']
    records = rollout_lines(rollout)[first_end + 1:]
    [answer] = [r["payload"] for r in records if r["type"] == "submission"
                and r["payload"]["op"]["type"] == "user_input_answer"]
    assert answer["decided_by"] == "unattended"
    assert answer["op"]["response"] == {"answers": {}}
    assert [r["payload"]["collaboration_mode"]["mode"] for r in records
            if r["type"] == "turn_context"] == ["plan"]
