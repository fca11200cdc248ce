"""A thread rollback through the door, with a loopback model server and real rollouts:
the turns leave what the model is sent, now and after a resume, and nothing else changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runtime.thread_harness import git_workspace, read_all, submit_prompt, write_config
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import within

from llmx.events.ops import ThreadRollback
from llmx.projections.resume import fold_resume
from llmx.runtime import ThreadEvents, ThreadManager, ThreadOptions, ThreadRef

KEY_ENV = "LLMX_ROLLBACK_TEST_KEY"
ANSWERS = {"turns": [], "fallback": [{"type": "message", "text": "ok"}]}


async def _turn_ends(events: ThreadEvents) -> None:
    async for line in events:
        if line.payload_type in ("task_complete", "turn_aborted"):
            return


def _user_texts(body: dict[str, object]) -> list[str]:
    texts = []
    for item in body["input"]:  # type: ignore[attr-defined]
        if item.get("role") == "user":
            texts.extend(part["text"] for part in item.get("content") or ()
                         if not part["text"].startswith("<"))
    return texts


def _payloads(path: Path, kind: str) -> list[dict[str, object]]:
    lines = [json.loads(raw) for raw in path.read_bytes().splitlines()]
    return [line["payload"] for line in lines
            if line["type"] == "event_msg" and line["payload"]["type"] == kind]


@pytest.mark.asyncio
async def test_rollback_drops_the_last_turns_from_the_history_now_and_after_resume(
    tmp_path: Path
) -> None:
    home = tmp_path / "home"
    workspace = git_workspace(tmp_path)
    marker = workspace / "kept.txt"
    marker.write_text("written before the rollback\n")
    options = ThreadOptions(cwd=workspace)
    with ModelServer(Script.from_json(ANSWERS)) as server:
        write_config(home, server, KEY_ENV)
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(options)
            events = thread.subscribe()
            ends = thread.subscribe()
            for text in ("one", "two", "three"):
                await submit_prompt(thread, text)
                await within(_turn_ends(ends), "the turn to end")
            # Once the turn ended (a rollback while one runs is refused, as in Codex).
            await thread.submit(ThreadRollback(num_turns=2))
            await submit_prompt(thread, "four")
            await within(thread.close(), "the thread to close")
            lines = await within(read_all(events), "the subscription to end")
            resumed = await manager.resume(ThreadRef.by_id(thread.thread_id), options)
            await submit_prompt(resumed, "five")
            await within(resumed.close(), "the resumed thread to close")
        bodies = [request.body for request in server.model_requests()]
    assert [_user_texts(body) for body in bodies] == [
        ["one"], ["one", "two"], ["one", "two", "three"], ["one", "four"],
        ["one", "four", "five"]]
    path = thread.rollout_path
    assert path is not None
    # Recorded as Codex records it: one marker, after the third turn's end; no line removed.
    assert _payloads(path, "thread_rolled_back") == [
        {"type": "thread_rolled_back", "num_turns": 2}]
    kinds = [line.payload_type for line in lines if line.ordinal is not None]
    assert kinds.index("thread_rolled_back") > max(
        index for index, kind in enumerate(kinds[:kinds.index("thread_rolled_back")])
        if kind == "task_complete")
    assert len(_payloads(path, "task_complete")) == 5
    # The fold of the file gives what the resumed thread sent before its own prompt.
    folded = fold_resume(path).history
    assert [text for item in folded if item.get("role") == "user"
            for text in [item["content"][0]["text"]] if not text.startswith("<")] == [
        "one", "four", "five"]
    assert marker.read_text() == "written before the rollback\n"


@pytest.mark.asyncio
async def test_a_rollback_that_cannot_happen_is_an_error_event_and_changes_nothing(
    tmp_path: Path
) -> None:
    home = tmp_path / "home"
    workspace = git_workspace(tmp_path)
    slow = {"turns": [{"match": "slow", "delay": 1.0,
                       "items": [{"type": "message", "text": "late"}]}],
            "fallback": [{"type": "message", "text": "ok"}]}
    with ModelServer(Script.from_json(slow)) as server:
        write_config(home, server, KEY_ENV)
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(ThreadOptions(cwd=workspace))
            events = thread.subscribe()
            await submit_prompt(thread, "one")
            await within(_turn_ends(events), "the turn to end")
            await thread.submit(ThreadRollback(num_turns=0))
            await submit_prompt(thread, "slow")
            # Sent while the slow turn runs: refused, not queued behind it.
            await thread.submit(ThreadRollback(num_turns=1))
            await submit_prompt(thread, "two")
            await within(thread.close(), "the thread to close")
            ephemeral = await manager.open(ThreadOptions(cwd=workspace, ephemeral=True))
            watch = ephemeral.subscribe()
            ended = ephemeral.subscribe()
            await submit_prompt(ephemeral, "one")
            await within(_turn_ends(ended), "the ephemeral turn to end")
            await ephemeral.submit(ThreadRollback(num_turns=1))
            await within(ephemeral.close(), "the ephemeral thread to close")
            seen = await within(read_all(watch), "the ephemeral subscription to end")
        bodies = [request.body for request in server.model_requests()]
    assert _user_texts(bodies[-2]) == ["one", "slow", "two"]
    path = thread.rollout_path
    assert path is not None
    assert _payloads(path, "thread_rolled_back") == []
    assert [(error["message"], error["codex_error_info"])
            for error in _payloads(path, "error")] == [
        ("num_turns must be >= 1", "thread_rollback_failed"),
        ("Cannot rollback while a turn is in progress.", "thread_rollback_failed")]
    errors = [line.item() for line in seen if line.payload_type == "error"]
    assert [getattr(error, "message", None) for error in errors] == [
        "thread rollback requires persisted thread history"]
