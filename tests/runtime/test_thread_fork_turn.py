"""Forks from a turn through the door and ``llmx fork``: real rollouts, a loopback model;
the fork keeps the history up to that turn, copies nothing, and continues from there."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from runtime.thread_harness import git_workspace, write_config
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import WAIT_SECONDS, within

from llmx.events.primitives import TextInput
from llmx.runtime import AgentThread, ThreadError, ThreadManager, ThreadOptions, ThreadRef

KEY_ENV = "LLMX_FORK_TEST_KEY"
ANSWERS = {"turns": [], "fallback": [{"type": "message", "text": "ok"}]}


async def _turns(thread: AgentThread, *texts: str) -> None:
    events = thread.subscribe()
    for text in texts:
        await thread.submit(thread.user_turn([TextInput(text=text)]))
        async for line in events:
            if line.payload_type in ("task_complete", "turn_aborted"):
                break
    await events.aclose()


def _user_texts(body: dict[str, object]) -> list[str]:
    return [part["text"] for item in body["input"]  # type: ignore[attr-defined]
            if item.get("role") == "user" for part in item.get("content") or ()
            if not part["text"].startswith("<")]


def _meta(path: Path) -> dict[str, object]:
    with path.open("rb") as handle:
        payload = json.loads(handle.readline())["payload"]
    assert isinstance(payload, dict)
    return payload


def _line_ends(path: Path) -> list[tuple[int, int, str]]:
    """(ordinal, byte end, payload type) of every line."""
    out, end = [], 0
    for raw in path.read_bytes().splitlines(keepends=True):
        end += len(raw)
        line = json.loads(raw)
        out.append((line["ordinal"], end, line["payload"].get("type", line["type"])))
    return out


@pytest.mark.asyncio
async def test_fork_from_a_turn_keeps_the_history_up_to_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    workspace = git_workspace(tmp_path)
    options = ThreadOptions(cwd=workspace)
    with ModelServer(Script.from_json(ANSWERS)) as server:
        write_config(home, server, KEY_ENV)
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            parent = await manager.open(options)
            await _turns(parent, "one", "two", "three")
            await parent.close()
            parent_size = parent.rollout_path.stat().st_size  # type: ignore[union-attr]
            fork = await manager.fork(ThreadRef.by_id(parent.thread_id), options, turn=2)
            await _turns(fork, "four")
            # A fork of the fork through a turn it inherited cuts the grandparent's file.
            again = await manager.fork(ThreadRef.by_id(fork.thread_id), options, turn=1)
            await _turns(again, "five")
            with pytest.raises(ThreadError, match="there is no turn 9: the thread has 3"):
                await manager.fork(ThreadRef.by_id(fork.thread_id), options, turn=9)
            await within(manager.close(), "the threads to close")
        bodies = [request.body for request in server.model_requests()]
    assert [_user_texts(body) for body in bodies[3:]] == [
        ["one", "two", "four"], ["one", "five"]]
    parent_path, fork_path = parent.rollout_path, fork.rollout_path
    assert parent_path is not None
    assert fork_path is not None
    # Nothing copied, nothing appended to the parent.
    assert parent_path.stat().st_size == parent_size
    ends = _line_ends(parent_path)
    second_end = [line for line in ends if line[2] == "task_complete"][1]
    meta = _meta(fork_path)
    assert meta["forked_from_id"] == parent.thread_id
    assert meta["history_base"] == {"thread_id": parent.thread_id,
                                    "end_ordinal_exclusive": second_end[0] + 1,
                                    "end_byte_offset": second_end[1]}
    assert meta["forked_from_ordinal_exclusive"] == second_end[0] + 1
    assert _line_ends(fork_path)[0][0] == second_end[0] + 1
    first_end = next(line for line in ends if line[2] == "task_complete")
    again_meta = _meta(again.rollout_path)  # type: ignore[arg-type]
    assert again_meta["forked_from_id"] == fork.thread_id
    assert again_meta["history_base"] == {"thread_id": parent.thread_id,
                                          "end_ordinal_exclusive": first_end[0] + 1,
                                          "end_byte_offset": first_end[1]}


def test_llmx_fork_prints_the_new_session_and_refuses_a_turn_it_lacks(tmp_path: Path) -> None:
    home = tmp_path / "home"
    workspace = git_workspace(tmp_path)
    with ModelServer(Script.from_json(ANSWERS)) as server:
        write_config(home, server, KEY_ENV)
        env = {"PATH": "/usr/bin:/bin", "LLMX_HOME": str(home), KEY_ENV: "dummy"}

        def llmx(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "llmx", *args], cwd=workspace,
                                  env=env, capture_output=True, text=True,
                                  timeout=WAIT_SECONDS, check=False)

        for text in ("one", "two"):
            run = llmx("exec", "--skip-git-repo-check", "resume", "--last", text) \
                if text == "two" else llmx("exec", text)
            assert run.returncode == 0, run.stderr
        [parent] = sorted((home / "sessions").rglob("rollout-*.jsonl"))
        parent_id = _meta(parent)["id"]
        forked = llmx("fork", str(parent_id), "--turn", "1", "--json")
        assert forked.returncode == 0, forked.stderr
        answer = json.loads(forked.stdout)
        assert answer["forked_from_id"] == parent_id
        assert Path(answer["rollout_path"]).is_file()
        assert answer["history_base"]["thread_id"] == parent_id
        plain = llmx("fork", str(parent))
        assert plain.returncode == 0, plain.stderr
        new_id, path = plain.stdout.split()
        assert _meta(Path(path))["id"] == new_id
        resumed = llmx("exec", "resume", answer["thread_id"], "three")
        assert resumed.returncode == 0, resumed.stderr
        missing = llmx("fork", str(parent_id), "--turn", "7")
        unknown = llmx("fork", "no-such-session")
        bodies = [request.body for request in server.model_requests()]
    assert _user_texts(bodies[-1]) == ["one", "three"]
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == [
        "llmx fork: there is no turn 7: the thread has 2 — pick an ended turn "
        "('llmx inspect' lists them)"]
    assert unknown.returncode == 1
    assert len(unknown.stderr.splitlines()) == 1
    assert unknown.stderr.startswith("llmx fork: ")
