"""``request_user_input`` and the collaboration modes through the door, against what the
real Codex 0.169 did with the same scripted model (``fixtures/codex-plan``).

Default mode (all ``llmx exec`` has): the model is told the tool is unavailable and
nobody is asked. Plan mode (a turn's ``collaboration_mode``): the questions go out as a
``request_user_input`` event, the answer is a ``user_input_answer`` submission logged with
who answered before the model sees it, and the model is told of each change of mode.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.app_server_schema import FIXTURES
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import WAIT_SECONDS, within

from llmx.events.ops import Interrupt, UserInputAnswer
from llmx.events.primitives import TextInput
from llmx.events.records import Approver
from llmx.runtime import AgentThread, ThreadManager, ThreadOptions
from llmx.runtime.collaboration import switch_to
from llmx.runtime.tools.specs import REQUEST_USER_INPUT_SPEC

KEY_ENV = "LLMX_USER_INPUT_TEST_KEY"
PLAN = FIXTURES / "codex-plan"
SCRIPT = json.loads((PLAN / "request_user_input.mock-script.json").read_text())
ANSWER = {"answers": {"db_choice": {"answers": ["SQLite"]}}}


def _requests(name: str) -> list[dict[str, Any]]:
    return [json.loads(line)["body"]
            for line in (PLAN / f"{name}.requests.jsonl").read_text().splitlines()]


def _outputs(body: dict[str, Any]) -> list[str]:
    return [item["output"] for item in body["input"]
            if item.get("type") == "function_call_output"]


def _mode_messages(body: dict[str, Any]) -> list[str]:
    """The collaboration modes the request tells the model of, oldest first."""
    found = []
    for item in body["input"]:
        for part in item.get("content", []) if item.get("role") == "developer" else []:
            text = part.get("text", "")
            if text.startswith("<collaboration_mode>"):
                found.append("plan" if "plan mode" in text[:60].lower() else "default")
    return found


def _workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "project"
    workspace.mkdir()
    subprocess.run(["git", "init", "-q", str(workspace)], check=True, timeout=WAIT_SECONDS)
    return workspace


def _home(tmp_path: Path, server: ModelServer) -> Path:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text(
        'model = "mock-model"\nmodel_provider = "mock"\n[model_providers.mock]\n'
        f'name = "mock"\nbase_url = "{server.base_url}"\nenv_key = "{KEY_ENV}"\n')
    return home


def _records(thread: AgentThread) -> list[dict[str, Any]]:
    path = thread.rollout_path
    assert path is not None
    return [json.loads(line) for line in path.read_text().splitlines()]


async def _turn(thread: AgentThread, text: str, mode: str | None = None) -> None:
    op = thread.user_turn([TextInput(text=text)])
    if mode is not None:
        op.collaboration_mode = switch_to(mode)
    await thread.submit(op)


@pytest.mark.asyncio
async def test_default_mode_tells_the_model_the_tool_is_unavailable(tmp_path: Path) -> None:
    """What ``codex exec`` did: the tool is offered, the call refused, nobody asked."""
    codex = _requests("exec_request_user_input_json")
    [codex_tool] = [t for t in codex[0]["tools"] if t.get("name") == "request_user_input"]
    assert codex_tool == REQUEST_USER_INPUT_SPEC
    with ModelServer(Script.from_json(SCRIPT)) as server:
        async with ThreadManager(_home(tmp_path, server),
                                 model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(ThreadOptions(cwd=_workspace(tmp_path)))
            await _turn(thread, "which database?")
            await within(thread.close(), "the thread to close")
        sent = [request.body for request in server.model_requests()]
    assert [t for t in sent[0]["tools"] if t.get("name") == "request_user_input"] == [
        codex_tool]
    assert _outputs(sent[1]) == _outputs(codex[1]) == [
        "request_user_input is unavailable in Default mode"]
    assert _mode_messages(sent[0]) == _mode_messages(codex[0]) == []
    records = _records(thread)
    assert not [r for r in records if r["payload"].get("type") == "request_user_input"]
    [context] = [r["payload"] for r in records if r["type"] == "turn_context"]
    assert context["collaboration_mode"]["mode"] == "default"
    assert thread.outcome.last_agent_message == "SQLite it is."


@pytest.mark.asyncio
async def test_plan_mode_asks_the_user_and_logs_the_answer_first(tmp_path: Path) -> None:
    codex = _requests("appserver_plan_request_user_input")
    transcript = [json.loads(line)["msg"] for line in
                  (PLAN / "appserver_plan_request_user_input.jsonrpc.jsonl")
                  .read_text().splitlines()]
    [codex_asked] = [m["params"] for m in transcript
                     if m.get("method") == "item/tool/requestUserInput"]
    with ModelServer(Script.from_json(SCRIPT)) as server:
        async with ThreadManager(_home(tmp_path, server),
                                 model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(ThreadOptions(cwd=_workspace(tmp_path)))
            events = thread.subscribe()
            await _turn(thread, "which database?", "plan")
            asked = None
            async for line in events:
                request = thread.user_input_request(line)
                if request is not None:
                    asked = request
                    assert thread.turn_running
                    await thread.submit(UserInputAnswer(id=request.turn_id, response=ANSWER),
                                        decided_by=Approver.USER)
                if line.payload_type == "task_complete":
                    break
            await _turn(thread, "now do it", "default")
            await _turn(thread, "and then")
            await within(thread.close(), "the thread to close")
            await events.aclose()
        sent = [request.body for request in server.model_requests()]
    assert asked is not None
    # The model gets the answer as Codex gave it.
    assert _outputs(sent[1]) == _outputs(codex[1]) == [json.dumps(ANSWER,
                                                                  separators=(",", ":"))]
    # Told of Plan mode from the start, of Default when it changed, nothing after.
    assert [_mode_messages(body) for body in sent] == [
        _mode_messages(body) for body in codex] == [
        ["plan"], ["plan"], ["plan", "default"], ["plan", "default"]]
    records = _records(thread)
    kinds = [(r["type"], r["payload"].get("type")) for r in records]
    asked_at = kinds.index(("event_msg", "request_user_input"))
    # The questions as Codex put them to its client (the free-form answer added).
    assert records[asked_at]["payload"]["questions"] == codex_asked["questions"]
    [call] = [r["payload"] for r in records
              if kinds[records.index(r)] == ("response_item", "function_call")]
    assert records[asked_at]["payload"]["call_id"] == call["call_id"]
    assert records[asked_at]["payload"]["turn_id"] == asked.turn_id
    [answered_at] = [i for i, r in enumerate(records) if r["type"] == "submission"
                     and r["payload"]["op"]["type"] == "user_input_answer"]
    [output_at] = [i for i, r in enumerate(records)
                   if kinds[i] == ("response_item", "function_call_output")]
    assert asked_at < answered_at < output_at
    answer = records[answered_at]["payload"]
    assert answer["decided_by"] == "user"
    assert answer["op"] == {"type": "user_input_answer", "id": asked.turn_id,
                            "response": ANSWER}
    assert [r["payload"]["collaboration_mode"]["mode"] for r in records
            if r["type"] == "turn_context"] == ["plan", "default", "default"]
    assert [r["payload"]["collaboration_mode_kind"] for r in records
            if kinds[records.index(r)] == ("event_msg", "task_started")] == [
        "plan", "default", "default"]


@pytest.mark.asyncio
async def test_questions_without_options_or_unreadable_arguments_are_refused(
    tmp_path: Path,
) -> None:
    no_options = {"questions": [{"id": "q", "header": "Q", "question": "Why?",
                                 "options": []}]}
    script = {"turns": [[{"type": "function_call", "name": "request_user_input",
                          "arguments": no_options},
                         {"type": "function_call", "name": "request_user_input",
                          "arguments": {"questions": "none"}}],
                        [{"type": "message", "text": "fine"}]]}
    with ModelServer(Script.from_json(script)) as server:
        async with ThreadManager(_home(tmp_path, server),
                                 model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(ThreadOptions(cwd=_workspace(tmp_path)))
            await _turn(thread, "ask", "plan")
            await within(thread.close(), "the thread to close")
        outputs = _outputs(server.model_requests()[1].body)
    assert outputs[0] == "request_user_input requires non-empty options for every question"
    assert outputs[1].startswith("failed to parse function arguments: ")
    assert thread.outcome.last_agent_message == "fine"


@pytest.mark.asyncio
async def test_an_interrupt_ends_the_wait(tmp_path: Path) -> None:
    with ModelServer(Script.from_json(SCRIPT)) as server:
        async with ThreadManager(_home(tmp_path, server),
                                 model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(ThreadOptions(cwd=_workspace(tmp_path)))
            events = thread.subscribe()
            await _turn(thread, "which database?", "plan")
            async for line in events:
                if thread.user_input_request(line) is not None:
                    await thread.submit(Interrupt())
                if line.payload_type == "turn_aborted":
                    break
            await within(thread.close(), "the thread to close")
            await events.aclose()
    records = _records(thread)
    [output] = [r["payload"]["output"] for r in records
                if r["payload"].get("type") == "function_call_output"]
    assert output.endswith("aborted by user")
    assert thread.outcome.aborted
    assert len(server.model_requests()) == 1


@pytest.mark.asyncio
async def test_a_resumed_thread_goes_on_in_its_mode(tmp_path: Path) -> None:
    """As Codex's ``exec resume`` of its own Plan-mode thread (``exec_resume_plan_json``):
    the next turn runs in Plan mode again, and since the mode did not change, the model is
    not told of it again."""
    from llmx.runtime import ThreadRef

    lines = (PLAN / "appserver_plan_request_user_input.rollout.jsonl").read_text().splitlines()
    first_end = next(i for i, line in enumerate(lines)
                     if json.loads(line)["payload"].get("type") == "task_complete")
    meta = json.loads(lines[0])["payload"]
    codex = _requests("exec_resume_plan_json")
    script = {"turns": [], "fallback": [{"type": "message", "text": "ok"}]}
    with ModelServer(Script.from_json(script)) as server:
        home = _home(tmp_path, server)
        day = home / "sessions" / "2026" / "12" / "05"
        day.mkdir(parents=True)
        (day / f"rollout-2026-12-05T16-34-40-{meta['id']}.jsonl").write_text(
            "\n".join(lines[: first_end + 1]) + "\n")
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.resume(ThreadRef.by_id(meta["id"]),
                                          ThreadOptions(cwd=_workspace(tmp_path)))
            assert thread.settings.collaboration.mode == "plan"
            await _turn(thread, "go on")
            await within(thread.close(), "the thread to close")
        sent = [request.body for request in server.model_requests()]
    assert [_mode_messages(body) for body in sent] == [_mode_messages(codex[0])] == [["plan"]]
    contexts = [r["payload"] for r in _records(thread) if r["type"] == "turn_context"]
    assert contexts[-1]["collaboration_mode"]["mode"] == "plan"


@pytest.mark.asyncio
async def test_the_answers_are_retained_as_codex_retains_them_and_folded_back_on_resume(
    tmp_path: Path
) -> None:
    from llmx.events.ops import ThreadRollback
    from llmx.projections.lineage import resolve_lineage
    from llmx.projections.turn_patches import verified_answers
    from llmx.runtime import ThreadRef

    codex_rollout = PLAN / "appserver_plan_request_user_input.rollout.jsonl"
    [codex_retained] = [json.loads(line)["payload"] for line in
                        codex_rollout.read_text().splitlines()
                        if json.loads(line)["type"] == "retained_context"]
    workspace = _workspace(tmp_path)
    with ModelServer(Script.from_json(SCRIPT)) as server:
        async with ThreadManager(_home(tmp_path, server),
                                 model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(ThreadOptions(cwd=workspace))
            events = thread.subscribe()
            await _turn(thread, "which database?", "plan")
            async for line in events:
                request = thread.user_input_request(line)
                if request is not None:
                    await thread.submit(UserInputAnswer(id=request.turn_id, response=ANSWER))
                if line.payload_type == "task_complete":
                    break
            await events.aclose()
            await _turn(thread, "now do it", "default")
            await within(thread.close(), "the thread to close")
            records = _records(thread)
            # Folded back on resume: the answer the first run kept.
            resumed = await manager.resume(ThreadRef.by_id(thread.thread_id),
                                           ThreadOptions(cwd=workspace))
            kept = resumed.verified_answers()
            await resumed.submit(ThreadRollback(num_turns=2))
            await within(resumed.close(), "the resumed thread to close")
            after_rollback = resumed.verified_answers()
    kinds = [(r["type"], r["payload"].get("type")) for r in records]
    [retained_at] = [i for i, kind in enumerate(kinds) if kind[0] == "retained_context"]
    [answered_at] = [i for i, r in enumerate(records) if r["type"] == "submission"
                     and r["payload"]["op"]["type"] == "user_input_answer"]
    [output_at] = [i for i, kind in enumerate(kinds)
                   if kind == ("response_item", "function_call_output")]
    # Written as Codex writes it, after the answer arrived and before the model's output.
    assert answered_at < retained_at < output_at
    retained = records[retained_at]["payload"]
    [call] = [r["payload"] for r in records if r["payload"].get("type") == "function_call"]
    assert retained["call_id"] == call["call_id"]
    [context] = [r["payload"] for r in records if r["type"] == "turn_context"][:1]
    assert retained["turn_id"] == context["turn_id"]
    # Codex's acceptance_order counts accepted inputs, which llmx does not number.
    expected = {key: value for key, value in codex_retained.items()
                if key not in ("turn_id", "call_id", "acceptance_order")}
    assert {key: value for key, value in retained.items()
            if key not in ("turn_id", "call_id")} == expected
    assert [(a.call_id, [(q.question, q.answer) for q in a.questions]) for a in kept] == [
        (call["call_id"], [("Which database should I use?\nSQLite: Simple, one file.",
                            "SQLite")])]
    assert after_rollback == []
    # llmx reads Codex's own line the same way.
    [codex_kept] = verified_answers(resolve_lineage(codex_rollout))
    assert [(q.question, q.answer) for q in codex_kept.questions] == [
        (q.question, q.answer) for q in kept[0].questions]
    assert codex_kept.acceptance_order == 2
