"""A thread llmx ran in Plan mode, where the model asked the user a question, resumes in
the real Codex CLI 0.169: Codex reads the mode from llmx's ``turn_context`` and goes on in
Plan mode, and sends the question and the answer as llmx recorded them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from e2e.exec_harness import API_KEY_ENV, ExecEnv, make_env
from interop.codex_cli import needs_codex, run_codex
from support.app_server_schema import FIXTURES
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import within

from llmx.events.ops import UserInputAnswer
from llmx.events.primitives import TextInput
from llmx.runtime import ThreadManager, ThreadOptions
from llmx.runtime.collaboration import PLAN_INSTRUCTIONS, switch_to

pytestmark = needs_codex
SCRIPT = json.loads((FIXTURES / "codex-plan" / "request_user_input.mock-script.json")
                    .read_text())
ANSWER = {"answers": {"db_choice": {"answers": ["SQLite"]}}}


async def llmx_asks_in_plan_mode(env: ExecEnv) -> str:
    async with ThreadManager(env.home, model_env={API_KEY_ENV: "dummy"}) as manager:
        thread = await manager.open(ThreadOptions(cwd=env.workspace))
        events = thread.subscribe()
        op = thread.user_turn([TextInput(text="which database?")])
        op.collaboration_mode = switch_to("plan")
        await thread.submit(op)
        async for line in events:
            request = thread.user_input_request(line)
            if request is not None:
                await thread.submit(UserInputAnswer(id=request.turn_id, response=ANSWER))
            if line.payload_type == "task_complete":
                break
        await events.aclose()
        await within(thread.close(), "the thread to close")
        return thread.thread_id


def _modes(body: dict[str, Any]) -> list[str]:
    return ["plan" if "plan mode" in part["text"][:60].lower() else "default"
            for item in body["input"] if item.get("role") == "developer"
            for part in item.get("content") or ()
            if part.get("text", "").startswith("<collaboration_mode>")]


def test_codex_resumes_a_plan_mode_thread_llmx_wrote(tmp_path: Path) -> None:
    with ModelServer(Script.from_json(SCRIPT)) as server:
        env = make_env(tmp_path, server.base_url)
        thread_id = asyncio.run(llmx_asks_in_plan_mode(env))
        resumed = run_codex("exec", "resume", thread_id, "go on", home=env.home,
                            cwd=env.workspace, env=env.env())
        assert resumed.returncode == 0, resumed.stderr
        bodies = [request.body for request in server.model_requests()]
        rollout = next(env.home.glob(f"sessions/*/*/*/rollout-*{thread_id}.jsonl"))
        contexts = [json.loads(line)["payload"] for line in rollout.read_text().splitlines()
                    if json.loads(line)["type"] == "turn_context"]
    llmx_second, codex = bodies[1], bodies[-1]
    # Codex sends what llmx sent (its own base instructions aside), the question and the
    # answer included ...
    assert codex["input"][1: len(llmx_second["input"])] == llmx_second["input"][1:]
    assert [item["output"] for item in codex["input"]
            if item.get("type") == "function_call_output"] == [
        json.dumps(ANSWER, separators=(",", ":"))]
    # ... and goes on in Plan mode: the context Codex sends for its new turn (it sends its
    # own whole context to a rollout that has no world_state line of Codex's) holds the
    # Plan mode text llmx recorded in its turn_context.
    assert _modes(llmx_second) == ["plan"]
    assert _modes(codex) == ["plan", "plan"]
    plan_texts = [part["text"] for item in codex["input"] if item.get("role") == "developer"
                  for part in item.get("content") or ()
                  if part.get("text", "").startswith("<collaboration_mode>")]
    assert plan_texts == [f"<collaboration_mode>{PLAN_INSTRUCTIONS}</collaboration_mode>"] * 2
    assert [c["collaboration_mode"]["mode"] for c in contexts] == ["plan", "plan"]


def test_codex_keeps_the_answer_llmx_retained_through_its_compaction(tmp_path: Path) -> None:
    """llmx's ``retained_context`` line is read by Codex: when Codex compacts the resumed
    thread, its checkpoint's retained context holds the answer llmx recorded."""
    with ModelServer(Script.from_json(SCRIPT)) as server:
        env = make_env(tmp_path, server.base_url)
        thread_id = asyncio.run(llmx_asks_in_plan_mode(env))
        rollout = next(env.home.glob(f"sessions/*/*/*/rollout-*{thread_id}.jsonl"))
        [retained] = [json.loads(line)["payload"] for line in rollout.read_text().splitlines()
                      if json.loads(line)["type"] == "retained_context"]
        # Every response reports 110 tokens: past a limit of 50, Codex compacts.
        resumed = run_codex("exec", "resume", "-c", "model_auto_compact_token_limit=50",
                            thread_id, "go on", home=env.home, cwd=env.workspace,
                            env=env.env())
        assert resumed.returncode == 0, resumed.stderr
        lines = [json.loads(line) for line in rollout.read_text().splitlines()]
    checkpoints = [line["payload"]["retained_context"] for line in lines
                   if line["type"] == "compacted"
                   and line["payload"].get("retained_context") is not None]
    assert checkpoints, "Codex did not compact"
    kept = checkpoints[-1]["verified_answers"]
    assert [(answer["turn_id"], answer["call_id"], answer["questions"]) for answer in kept] == [
        (retained["turn_id"], retained["call_id"], retained["questions"])]
