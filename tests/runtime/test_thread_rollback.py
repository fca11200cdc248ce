"""A thread rollback through the door, with a loopback model server and real rollouts:
the turns leave what the model is sent, now and after a resume, and nothing else changes.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import WAIT_SECONDS, within

from llmx.events.lines import RolloutLine
from llmx.events.ops import ThreadRollback
from llmx.events.primitives import TextInput
from llmx.projections.resume import fold_resume
from llmx.runtime import AgentThread, ThreadEvents, ThreadManager, ThreadOptions, ThreadRef

KEY_ENV = "LLMX_ROLLBACK_TEST_KEY"
ANSWERS = {"turns": [], "fallback": [{"type": "message", "text": "ok"}]}


def _config(home: Path, server: ModelServer) -> None:
    home.mkdir(mode=0o700, exist_ok=True)
    (home / "config.toml").write_text(
        'model = "mock-model"\nmodel_provider = "mock"\n'
        "[model_providers.mock]\n"
        f'name = "mock"\nbase_url = "{server.base_url}"\nenv_key = "{KEY_ENV}"\n'
        "request_max_retries = 0\nstream_max_retries = 0\n"
    )


def _workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "project"
    workspace.mkdir()
    subprocess.run(["git", "init", "-q", str(workspace)], check=True, timeout=WAIT_SECONDS)
    return workspace


async def _turn(thread: AgentThread, text: str) -> None:
    await thread.submit(thread.user_turn([TextInput(text=text)]))


async def _read_all(events: ThreadEvents) -> list[RolloutLine]:
    return [line async for line in events]


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
    workspace = _workspace(tmp_path)
    marker = workspace / "kept.txt"
    marker.write_text("written before the rollback\n")
    options = ThreadOptions(cwd=workspace)
    with ModelServer(Script.from_json(ANSWERS)) as server:
        _config(home, server)
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(options)
            events = thread.subscribe()
            ends = thread.subscribe()
            for text in ("one", "two", "three"):
                await _turn(thread, text)
                await within(_turn_ends(ends), "the turn to end")
            # Once the turn ended (a rollback while one runs is refused, as in Codex).
            await thread.submit(ThreadRollback(num_turns=2))
            await _turn(thread, "four")
            await within(thread.close(), "the thread to close")
            lines = await within(_read_all(events), "the subscription to end")
            resumed = await manager.resume(ThreadRef.by_id(thread.thread_id), options)
            await _turn(resumed, "five")
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
    workspace = _workspace(tmp_path)
    slow = {"turns": [{"match": "slow", "delay": 1.0,
                       "items": [{"type": "message", "text": "late"}]}],
            "fallback": [{"type": "message", "text": "ok"}]}
    with ModelServer(Script.from_json(slow)) as server:
        _config(home, server)
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(ThreadOptions(cwd=workspace))
            events = thread.subscribe()
            await _turn(thread, "one")
            await within(_turn_ends(events), "the turn to end")
            await thread.submit(ThreadRollback(num_turns=0))
            await _turn(thread, "slow")
            # Sent while the slow turn runs: refused, not queued behind it.
            await thread.submit(ThreadRollback(num_turns=1))
            await _turn(thread, "two")
            await within(thread.close(), "the thread to close")
            ephemeral = await manager.open(ThreadOptions(cwd=workspace, ephemeral=True))
            watch = ephemeral.subscribe()
            ended = ephemeral.subscribe()
            await _turn(ephemeral, "one")
            await within(_turn_ends(ended), "the ephemeral turn to end")
            await ephemeral.submit(ThreadRollback(num_turns=1))
            await within(ephemeral.close(), "the ephemeral thread to close")
            seen = await within(_read_all(watch), "the ephemeral subscription to end")
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
