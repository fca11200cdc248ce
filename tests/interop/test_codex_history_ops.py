"""Rollbacks and forks llmx makes load in the real Codex CLI 0.169 with the same history,
and Codex's forks load in llmx: the two programs share one home."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from e2e.exec_harness import API_KEY_ENV, ExecEnv, make_env
from interop.codex_cli import needs_codex, run_codex
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import within

from llmx.events.ops import ThreadRollback
from llmx.events.primitives import TextInput
from llmx.runtime import AgentThread, ThreadEvents, ThreadManager, ThreadOptions, ThreadRef

pytestmark = needs_codex
ANSWERS = {"turns": [], "fallback": [{"type": "message", "text": "ok"}]}


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
