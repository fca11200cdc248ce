"""Commands that keep running (unified exec) through real turns under the kernel sandbox:
one started by exec_command outlives its turn, takes input from write_stdin in the next
one, stays confined, and dies with the session; every chunk of its output is an event."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from pathlib import Path

import pytest
from e2e.exec_harness import needs_sandbox
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import WAIT_SECONDS, wait_until, within

from llmx.events.primitives import TextInput
from llmx.runtime import AgentThread, ThreadManager, ThreadOptions

KEY_ENV = "LLMX_UNIFIED_EXEC_TEST_KEY"


def _workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "project"
    workspace.mkdir()
    subprocess.run(["git", "init", "-q", str(workspace)], check=True, timeout=WAIT_SECONDS)
    (tmp_path / "outside").mkdir()
    return workspace


async def _turn(thread: AgentThread, text: str) -> None:
    events = thread.subscribe()
    await thread.submit(thread.user_turn([TextInput(text=text)]))
    async for line in events:
        if line.payload_type in ("task_complete", "turn_aborted"):
            break
    await events.aclose()


def _outputs(body: dict[str, object]) -> list[str]:
    return [item["output"] for item in body["input"]  # type: ignore[attr-defined]
            if item.get("type") == "function_call_output"]


@needs_sandbox
@pytest.mark.asyncio
async def test_a_kept_process_survives_turns_takes_input_and_dies_with_the_session(
    tmp_path: Path
) -> None:
    workspace = _workspace(tmp_path)
    outside = tmp_path / "outside"
    command = (
        "(while true; do date +%s%N >> beat.txt; sleep 0.1; done) & "
        "echo ready; while read line; do echo \"got:$line\"; echo \"$line\" >> inside.txt; "
        f"(echo \"$line\" > {outside}/escape.txt) 2>/dev/null && echo escaped || echo denied; "
        "done")
    feed = {"session_id": "$SESSION_ID", "chars": "hello\n", "yield_time_ms": 1500}
    script = {"turns": [
        {"match": "start", "items": [{"type": "shell", "command": command,
                                      "yield_time_ms": 500}]},
        {"match": "start", "items": [{"type": "message", "text": "started"}]},
        {"match": "feed", "items": [{"type": "function_call", "name": "write_stdin",
                                     "arguments": feed}]},
        {"match": "feed", "items": [{"type": "message", "text": "fed"}]},
    ], "fallback": [{"type": "message", "text": "ok"}]}
    home = tmp_path / "home"
    home.mkdir()
    with ModelServer(Script.from_json(script)) as server:
        (home / "config.toml").write_text(
            'model = "mock-model"\nmodel_provider = "mock"\n'
            "[sandbox_workspace_write]\nexclude_tmpdir_env_var = true\n"
            "exclude_slash_tmp = true\n[rollout]\npersist_deltas = true\n"
            "[model_providers.mock]\n"
            f'name = "mock"\nbase_url = "{server.base_url}"\nenv_key = "{KEY_ENV}"\n')
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(ThreadOptions(
                cwd=workspace, sandbox_mode="workspace-write", approval_policy="never"))
            await _turn(thread, "start it")
            # The first turn has ended; the process still runs.
            beats = (workspace / "beat.txt").stat().st_size
            beat = workspace / "beat.txt"
            await asyncio.to_thread(wait_until, lambda: beat.stat().st_size > beats,
                                    "the kept process to beat again after its turn")
            await _turn(thread, "feed it")
            await within(thread.close(), "the thread to close")
        closed = (workspace / "beat.txt").stat().st_size
        # Ten beats' time: a process still alive would have written.
        await asyncio.sleep(1.0)
        bodies = [request.body for request in server.model_requests()]
    started = _outputs(bodies[1])[0]
    assert "Process running with session ID 1000" in started
    assert "ready" in started
    fed = _outputs(bodies[3])[-1]
    assert "Process running with session ID 1000" in fed
    assert "got:hello" in fed
    # Confined like any command: the workspace is writable, the folder beside it is not.
    assert "denied" in fed
    assert (workspace / "inside.txt").read_text() == "hello\n"
    assert not (outside / "escape.txt").exists()
    # Dead with the session: nothing it started beats any more.
    assert (workspace / "beat.txt").stat().st_size == closed
    path = thread.rollout_path
    assert path is not None
    lines = [json.loads(raw)["payload"] for raw in path.read_text().splitlines()]
    chunks = b"".join(base64.b64decode(p["chunk"]) for p in lines
                      if p.get("type") == "exec_command_output_delta")
    # Every chunk streams, from before it was kept (also in the call's answer) to after.
    assert b"ready" in chunks
    assert b"got:hello" in chunks
    assert chunks.index(b"ready") < chunks.index(b"got:hello")
    assert [p["stdin"] for p in lines if p.get("type") == "terminal_interaction"] == ["hello\n"]
    ends = [p["item"] for p in lines if p.get("type") == "item_completed"
            and p["item"]["type"] == "CommandExecution"]
    assert len(ends) == 1
    assert ends[0]["status"] == "failed"
    assert "got:hello" in ends[0]["aggregated_output"]


@pytest.mark.asyncio
async def test_write_stdin_to_an_unknown_session(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    call = {"type": "function_call", "name": "write_stdin",
            "arguments": json.dumps({"session_id": 4242, "chars": "x"})}
    script = {"turns": [{"items": [call]}], "fallback": [{"type": "message", "text": "ok"}]}
    home = tmp_path / "home"
    home.mkdir()
    with ModelServer(Script.from_json(script)) as server:
        (home / "config.toml").write_text(
            'model = "mock-model"\nmodel_provider = "mock"\n[model_providers.mock]\n'
            f'name = "mock"\nbase_url = "{server.base_url}"\nenv_key = "{KEY_ENV}"\n')
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(ThreadOptions(cwd=workspace))
            await _turn(thread, "poke")
            await within(thread.close(), "the thread to close")
        bodies = [request.body for request in server.model_requests()]
    assert _outputs(bodies[1]) == ["write_stdin failed: Unknown process id 4242"]
