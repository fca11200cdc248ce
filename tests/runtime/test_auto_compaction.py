"""Automatic compaction, driven by a scripted model past a small context window: before
a turn when the last response filled the context, inside a turn between tool calls, and
before the first turn of a resumed history the model could not take. Real rollouts, a
loopback model server; the resume fold of the file gives what the next request sends."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import WAIT_SECONDS, within

from llmx.events.ops import Compact
from llmx.events.primitives import TextInput
from llmx.projections.resume import fold_resume
from llmx.projections.turns import SUMMARY_PREFIX
from llmx.runtime import AgentThread, ThreadError, ThreadManager, ThreadOptions, ThreadRef

KEY_ENV = "LLMX_COMPACTION_TEST_KEY"


def usage(total: int) -> dict[str, Any]:
    return {"input_tokens": total - 10, "output_tokens": 10, "total_tokens": total}


# The window is 2000 tokens: the limit is 1800.
SCRIPT = {"turns": [
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


def config(home: Path, server: ModelServer, extra: str = "") -> None:
    home.mkdir(mode=0o700, exist_ok=True)
    (home / "config.toml").write_text(
        'model = "mock-model"\nmodel_provider = "mock"\nmodel_context_window = 2000\n'
        f"{extra}[model_providers.mock]\n"
        f'name = "mock"\nbase_url = "{server.base_url}"\nenv_key = "{KEY_ENV}"\n'
        "request_max_retries = 0\nstream_max_retries = 0\n"
    )


def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True, timeout=WAIT_SECONDS)
    return path


async def turns(thread: AgentThread, *texts: str) -> None:
    events = thread.subscribe()
    for text in texts:
        await thread.submit(thread.user_turn([TextInput(text=text)]))
        async for line in events:
            if line.payload_type in ("task_complete", "turn_aborted") and \
                    _is_user_turn_end(line.raw):
                break
    await events.aclose()


def _is_user_turn_end(raw: bytes) -> bool:
    # A compaction turn ends with task_complete too; a user turn's carries its answer.
    return b'"last_agent_message":null' not in raw


def texts(items: list[dict[str, Any]]) -> list[str]:
    out = []
    for item in items:
        if item.get("type") == "message" and item.get("role") in ("user", "assistant"):
            for part in item.get("content") or ():
                text = part.get("text", "")
                if not text.startswith("<"):
                    out.append(f"{item['role']}: {text}")
        elif item.get("type") in ("function_call", "function_call_output"):
            out.append(item["type"])
    return out


def payloads(path: Path) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in path.read_bytes().splitlines()]


@pytest.mark.asyncio
async def test_a_session_past_its_window_compacts_and_continues(tmp_path: Path) -> None:
    home = tmp_path / "home"
    options = ThreadOptions(cwd=workspace(tmp_path), sandbox_mode="danger-full-access",
                            approval_policy="never")
    with ModelServer(Script.from_json(SCRIPT)) as server:
        config(home, server)
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(options)
            await turns(thread, "one", "two", "three")
            await within(thread.close(), "the thread to close")
            path = thread.rollout_path
            assert path is not None
            folded = fold_resume(path).history
            resumed = await manager.resume(ThreadRef.by_id(thread.thread_id), options)
            await turns(resumed, "four")
            await within(resumed.close(), "the resumed thread to close")
        bodies = [request.body for request in server.model_requests()]
    summary_a = f"user: {SUMMARY_PREFIX}\nSUMMARY-A"
    summary_b = f"user: {SUMMARY_PREFIX}\nSUMMARY-B"
    # one, two; then the compaction asked before turn three (the context was full).
    assert texts(bodies[2]["input"])[-1].startswith(
        "user: You are performing a CONTEXT CHECKPOINT")
    assert texts(bodies[2]["input"])[:4] == ["user: one", "assistant: ok one", "user: two",
                                             "assistant: ok two"]
    # Turn three starts from the summary; its tool call fills the context again, so the
    # turn compacts between the tool's output and its next request, then goes on.
    assert texts(bodies[3]["input"]) == ["user: one", "user: two", summary_a, "user: three"]
    assert texts(bodies[4]["input"])[-3:-1] == ["function_call", "function_call_output"]
    assert texts(bodies[5]["input"]) == ["user: one", "user: two", "user: three", summary_b]
    # The file says so: two compactions, each a compacted line with its replacement.
    lines = payloads(path)
    compacted = [line["payload"] for line in lines if line["type"] == "compacted"]
    assert len(compacted) == 2
    assert texts(compacted[1]["replacement_history"]) == texts(bodies[5]["input"])
    warnings = [line["payload"]["message"] for line in lines
                if line["payload"].get("type") == "warning"]
    assert warnings == ["The context holds 1900 tokens, at or above the compaction limit "
                        "of 1800: compacting it before the next turn."]
    # The mid-turn compaction is an item of turn three, not a turn of its own.
    starts = [line["payload"]["turn_id"] for line in lines
              if line["payload"].get("type") == "task_started"]
    assert len(starts) == 5  # one, two, the compaction, three, four (resumed)
    # A resume continues from the second summary, as the fold of the file says.
    assert texts(folded) == ["user: one", "user: two", "user: three", summary_b,
                             "assistant: done three"]
    assert texts(bodies[6]["input"]) == [*texts(folded), "user: four"]


@pytest.mark.asyncio
async def test_a_resumed_history_larger_than_the_window_is_compacted_first(
    tmp_path: Path
) -> None:
    home = tmp_path / "home"
    options = ThreadOptions(cwd=workspace(tmp_path))
    big = "x" * 3000
    script = {"turns": [{"match": "CONTEXT CHECKPOINT",
                         "items": [{"type": "message", "text": "SUMMARY-C"}],
                         "usage": usage(300)}],
              "fallback": {"items": [{"type": "message", "text": "ok"}], "usage": usage(200)}}
    with ModelServer(Script.from_json(script)) as server:
        # Recorded under a large window, resumed under a small one.
        config(home, server)
        text = (home / "config.toml").read_text().replace("model_context_window = 2000",
                                                          "model_context_window = 200000")
        (home / "config.toml").write_text(text)
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(options)
            await turns(thread, f"one {big}", f"two {big}", f"three {big}")
            await within(thread.close(), "the thread to close")
        config(home, server)
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            resumed = await manager.resume(ThreadRef.by_id(thread.thread_id), options)
            await turns(resumed, "four")
            await within(resumed.close(), "the resumed thread to close")
        bodies = [request.body for request in server.model_requests()]
    path = thread.rollout_path
    assert path is not None
    lines = payloads(path)
    warnings = [line["payload"]["message"] for line in lines
                if line["payload"].get("type") == "warning"]
    assert len(warnings) == 2
    assert warnings[0].startswith("The resumed history (about ")
    assert warnings[0].endswith("is larger than the model can take (compaction limit 1800): "
                                "compacting it before the next turn.")
    assert warnings[1].startswith("Trimmed ")
    # The compaction request fits the window: the oldest turns were left out of it.
    compaction = texts(bodies[3]["input"])
    assert compaction[-1].startswith("user: You are performing a CONTEXT CHECKPOINT")
    assert f"user: one {big}" not in compaction
    assert len(json.dumps(bodies[3]["input"])) < 2000 * 4
    # The turn the user asked for then went out on the summary.
    assert texts(bodies[4]["input"])[-2:] == [f"user: {SUMMARY_PREFIX}\nSUMMARY-C", "user: four"]


@pytest.mark.asyncio
async def test_the_compaction_prompt_comes_from_the_configuration(tmp_path: Path) -> None:
    home = tmp_path / "home"
    prompt_file = tmp_path / "prompt.md"
    prompt_file.write_text("Summarise for the next shift, in haiku.")
    script = {"turns": [], "fallback": {"items": [{"type": "message", "text": "ok"}],
                                        "usage": usage(100)}}
    options = ThreadOptions(cwd=workspace(tmp_path))
    with ModelServer(Script.from_json(script)) as server:
        config(home, server, 'compact_prompt = "Summarise briefly."\n')
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(options)
            await turns(thread, "one")
            await thread.submit(Compact())
            await within(thread.close(), "the thread to close")
        config(home, server, f'experimental_compact_prompt_file = "{prompt_file}"\n'
                             'compact_prompt = "ignored"\n')
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            again = await manager.resume(ThreadRef.by_id(thread.thread_id), options)
            await again.submit(Compact())
            await within(again.close(), "the thread to close")
        config(home, server, f'experimental_compact_prompt_file = "{tmp_path}/missing.md"\n')
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            with pytest.raises(ThreadError, match=r"missing\.md: cannot read it"):
                await manager.open(options)
        bodies = [request.body for request in server.model_requests()]
    assert texts(bodies[1]["input"])[-1] == "user: Summarise briefly."
    assert texts(bodies[2]["input"])[-1] == "user: Summarise for the next shift, in haiku."
