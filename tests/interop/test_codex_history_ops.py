"""Rollbacks and forks llmx makes load in the real Codex CLI 0.169 with the same history,
and Codex's forks load in llmx: the two programs share one home."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from e2e.exec_harness import API_KEY_ENV, PATCHING_MODEL, ExecEnv, make_env
from interop.codex_cli import needs_codex, run_codex
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import within

from llmx.events.ops import ThreadRollback
from llmx.events.primitives import TextInput
from llmx.projections.turns import SUMMARY_PREFIX
from llmx.runtime import AgentThread, ThreadEvents, ThreadManager, ThreadOptions, ThreadRef

pytestmark = needs_codex
ANSWERS = {"turns": [], "fallback": [{"type": "message", "text": "ok"}]}


def usage(total: int) -> dict[str, Any]:
    return {"input_tokens": total - 10, "output_tokens": 10, "total_tokens": total}


# Under a 2000-token window (limit 1800): turn two fills it, so the history is compacted
# before turn three; turn three's tool call fills it again, so it is compacted inside it.
COMPACTING_SCRIPT = {"turns": [
    {"match": "one", "items": [{"type": "message", "text": "ok one"}], "usage": usage(500)},
    {"match": "two", "items": [{"type": "message", "text": "ok two"}], "usage": usage(1900)},
    {"match": "CONTEXT CHECKPOINT", "items": [{"type": "message", "text": "SUMMARY-A"}],
     "usage": usage(300)},
    {"match": "three", "items": [{"type": "shell", "command": "echo from-the-tool"}],
     "usage": usage(1950)},
    {"match": "CONTEXT CHECKPOINT", "items": [{"type": "message", "text": "SUMMARY-B"}],
     "usage": usage(300)},
    {"match": "SUMMARY-B", "items": [{"type": "message", "text": "done three"}],
     "usage": usage(400)},
], "fallback": {"items": [{"type": "message", "text": "ok"}], "usage": usage(450)}}


def user_texts(body: dict[str, Any]) -> list[str]:
    return [part["text"] for item in body["input"] if item.get("role") == "user"
            for part in item.get("content") or () if not part["text"].startswith("<")]


async def turns_then(thread: AgentThread, texts: list[str]) -> None:
    events: ThreadEvents = thread.subscribe()
    for text in texts:
        await thread.submit(thread.user_turn([TextInput(text=text)]))
        async for line in events:
            if line.payload_type in ("task_complete", "turn_aborted"):
                break
    await events.aclose()


async def llmx_rolls_back(env: ExecEnv) -> str:
    async with ThreadManager(env.home, model_env={API_KEY_ENV: "dummy"}) as manager:
        thread = await manager.open(ThreadOptions(cwd=env.workspace))
        await turns_then(thread, ["one", "two", "three"])
        await thread.submit(ThreadRollback(num_turns=2))
        await turns_then(thread, ["four"])
        await within(thread.close(), "the thread to close")
        return thread.thread_id


def test_codex_resumes_a_thread_llmx_rolled_back(tmp_path: Path) -> None:
    with ModelServer(Script.from_json(ANSWERS)) as server:
        env = make_env(tmp_path, server.base_url)
        thread_id = asyncio.run(llmx_rolls_back(env))
        resumed = run_codex("exec", "resume", thread_id, "five", home=env.home,
                            cwd=env.workspace, env=env.env())
        assert resumed.returncode == 0, resumed.stderr
        bodies = [request.body for request in server.model_requests()]
    assert user_texts(bodies[-2]) == ["one", "four"]
    assert user_texts(bodies[-1]) == ["one", "four", "five"]


PATCHING_SCRIPT = {"turns": [
    {"match": "first", "items": [{"type": "custom_tool_call", "name": "apply_patch",
                                  "input": "*** Begin Patch\n*** Add File: notes.txt\n+one\n"
                                           "*** End Patch"}]},
    {"match": "second", "items": [{"type": "custom_tool_call", "name": "apply_patch",
                                   "input": "*** Begin Patch\n*** Update File: notes.txt\n"
                                            "@@\n-one\n+two\n*** End Patch"}]},
], "fallback": [{"type": "message", "text": "ok"}]}


async def llmx_rolls_back_and_reverts(env: ExecEnv) -> str:
    async with ThreadManager(env.home, model_env={API_KEY_ENV: "dummy"}) as manager:
        thread = await manager.open(ThreadOptions(
            cwd=env.workspace, sandbox_mode="workspace-write", approval_policy="never"))
        await turns_then(thread, ["first", "second"])
        await thread.submit(ThreadRollback(num_turns=1, revert_files=True))
        await within(thread.close(), "the thread to close")
        return thread.thread_id


def test_codex_resumes_a_thread_llmx_rolled_back_with_its_files_reverted(
    tmp_path: Path
) -> None:
    with ModelServer(Script.from_json(PATCHING_SCRIPT)) as server:
        env = make_env(tmp_path, server.base_url, model=PATCHING_MODEL)
        thread_id = asyncio.run(llmx_rolls_back_and_reverts(env))
        assert (env.workspace / "notes.txt").read_text() == "one\n"
        # The revert's FileChange item (no turn) before the marker: Codex reads past it.
        resumed = run_codex("exec", "resume", thread_id, "third", home=env.home,
                            cwd=env.workspace, env=env.env())
        assert resumed.returncode == 0, resumed.stderr
        bodies = [request.body for request in server.model_requests()]
    assert user_texts(bodies[-1]) == ["first", "third"]


async def llmx_forks_at_a_turn(env: ExecEnv) -> tuple[str, str]:
    async with ThreadManager(env.home, model_env={API_KEY_ENV: "dummy"}) as manager:
        options = ThreadOptions(cwd=env.workspace)
        parent = await manager.open(options)
        await turns_then(parent, ["one", "two", "three"])
        await parent.close()
        fork = await manager.fork(ThreadRef.by_id(parent.thread_id), options, turn=1)
        await turns_then(fork, ["four"])
        await within(fork.close(), "the fork to close")
        return parent.thread_id, fork.thread_id


def test_codex_resumes_a_fork_llmx_made_from_a_turn(tmp_path: Path) -> None:
    with ModelServer(Script.from_json(ANSWERS)) as server:
        env = make_env(tmp_path, server.base_url)
        parent_id, fork_id = asyncio.run(llmx_forks_at_a_turn(env))
        resumed = run_codex("exec", "resume", fork_id, "five", home=env.home,
                            cwd=env.workspace, env=env.env())
        assert resumed.returncode == 0, resumed.stderr
        # And the parent, untouched by its fork, still resumes whole in Codex.
        parent = run_codex("exec", "resume", parent_id, "six", home=env.home,
                           cwd=env.workspace, env=env.env())
        assert parent.returncode == 0, parent.stderr
        bodies = [request.body for request in server.model_requests()]
    assert user_texts(bodies[3]) == ["one", "four"]
    assert user_texts(bodies[4]) == ["one", "four", "five"]
    assert user_texts(bodies[5]) == ["one", "two", "three", "six"]


async def llmx_reverts_before_a_turn(env: ExecEnv) -> str:
    async with ThreadManager(env.home, model_env={API_KEY_ENV: "dummy"}) as manager:
        options = ThreadOptions(cwd=env.workspace)
        thread = await manager.open(options)
        await turns_then(thread, ["one", "two", "three"])
        second = second_turn_id(thread.rollout_path)
        reverted = await manager.revert(thread, second, options)
        await turns_then(reverted, ["four"])
        await within(reverted.close(), "the reverted thread to close")
        return thread.thread_id


def second_turn_id(path: Path | None) -> str:
    assert path is not None
    started = [line["payload"]["turn_id"] for line in map(json.loads, path.read_text().splitlines())
               if line["payload"].get("type") == "task_started"]
    return str(started[1])


def test_codex_resumes_a_thread_llmx_reverted(tmp_path: Path) -> None:
    with ModelServer(Script.from_json(ANSWERS)) as server:
        env = make_env(tmp_path, server.base_url)
        thread_id = asyncio.run(llmx_reverts_before_a_turn(env))
        resumed = run_codex("exec", "resume", thread_id, "five", home=env.home,
                            cwd=env.workspace, env=env.env())
        assert resumed.returncode == 0, resumed.stderr
        bodies = [request.body for request in server.model_requests()]
    assert user_texts(bodies[3]) == ["one", "four"]
    assert user_texts(bodies[4]) == ["one", "four", "five"]


async def llmx_runs_past_its_window(env: ExecEnv) -> str:
    options = ThreadOptions(cwd=env.workspace, sandbox_mode="danger-full-access",
                            approval_policy="never")
    async with ThreadManager(env.home, model_env={API_KEY_ENV: "dummy"}) as manager:
        thread = await manager.open(options)
        await turns_then(thread, ["one", "two", "three"])
        await within(thread.close(), "the thread to close")
        resumed = await manager.resume(ThreadRef.by_id(thread.thread_id), options)
        await turns_then(resumed, ["four"])
        await within(resumed.close(), "the resumed thread to close")
        return thread.thread_id


def conversation(body: dict[str, Any]) -> list[str]:
    """The messages and calls of a request, without the context either program adds."""
    out = []
    for item in body["input"]:
        if item.get("type") == "message" and item.get("role") in ("user", "assistant"):
            out += [f"{item['role']}: {part['text']}" for part in item.get("content") or ()
                    if not part.get("text", "").startswith("<")]
        elif item.get("type") in ("function_call", "function_call_output"):
            out.append(item["type"])
    return out


def test_codex_resumes_a_session_llmx_compacted_with_the_same_history(tmp_path: Path) -> None:
    script = dict(COMPACTING_SCRIPT)
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url, config_extra="model_context_window = 2000")
        thread_id = asyncio.run(llmx_runs_past_its_window(env))
        resumed = run_codex("exec", "resume", thread_id, "five", home=env.home,
                            cwd=env.workspace, env=env.env())
        assert resumed.returncode == 0, resumed.stderr
        bodies = [request.body for request in server.model_requests()]
    # Two compactions happened in llmx (before turn three, and inside it).
    assert sum("CONTEXT CHECKPOINT" in json.dumps(body["input"][-1]) for body in bodies) == 2
    # llmx's resume and then Codex's send the same history, each with what came since.
    llmx_resume, codex_resume = bodies[-2], bodies[-1]
    assert conversation(llmx_resume)[-3:] == [
        "user: three", f"user: {SUMMARY_PREFIX}\nSUMMARY-B", "assistant: done three",
        "user: four"][-3:]
    assert conversation(codex_resume) == [*conversation(llmx_resume), "assistant: ok",
                                          "user: five"]
