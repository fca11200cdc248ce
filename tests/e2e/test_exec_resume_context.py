"""A resumed turn tells the model when its situation changed, as Codex 0.169 does.

``exec`` then ``exec resume`` for real against the loopback model server, reading what
each request sent: when the cwd, the sandbox, the approval policy or the model differ from
the turn the model last heard of, the new turn opens with a fresh environment context
(llmx's carries the permissions) and, for a new model, a model-switch message; when
nothing changed, nothing is added. A Codex session resumed elsewhere is told the new cwd.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e.exec_harness import ExecEnv, make_env, rollout_lines
from support import CODEX_FIXTURES
from support.model_scripts import Script
from support.model_server import ModelServer

from llmx.projections.resume import fold_resume, prompt_input

SCRIPT = {"turns": [], "fallback": [{"type": "message", "text": "done"}]}
CODEX_ROLLOUT = CODEX_FIXTURES / "rollouts" / (
    "exec_json_shell_workspace_write_then_resume_last_again.rollout.jsonl")


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer(Script.from_json(SCRIPT)) as running:
        yield running


@pytest.fixture
def env(tmp_path: Path, server: ModelServer) -> ExecEnv:
    return make_env(tmp_path, server.base_url)


def _text(item: dict[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, list) and content:
        return str(content[0].get("text", ""))
    return ""


def _sent(server: ModelServer) -> list[list[dict[str, Any]]]:
    """The ``input`` of every model request, without the base instructions (input[0])."""
    return [request.body["input"][1:] for request in server.model_requests()]


def _tag(text: str, name: str) -> str:
    return text.split(f"<{name}>", 1)[1].split(f"</{name}>", 1)[0]


def _run(env: ExecEnv, *args: str) -> None:
    done = env.run(*args)
    assert done.returncode == 0, done.stderr


def test_a_resume_in_another_sandbox_tells_the_model_the_new_permissions(
    env: ExecEnv, server: ModelServer
) -> None:
    _run(env, "--dangerously-bypass-approvals-and-sandbox", "first")
    _run(env, "-s", "read-only", "resume", "--last", "second")
    first, second = _sent(server)
    assert _tag(_text(first[0]), "sandbox_mode") == "danger-full-access"
    # The history as it was, then the fresh context, then the prompt.
    assert second[: len(first)] == first
    assert [item["role"] for item in second[len(first):]] == ["assistant", "user", "user"]
    fresh = _text(second[-2])
    assert fresh.startswith("<environment_context>")
    assert _tag(fresh, "sandbox_mode") == "read-only"
    assert _tag(fresh, "network_access") == "restricted"
    assert _tag(fresh, "cwd") == str(env.workspace)
    assert _text(second[-1]) == "second"
    # It is on record, so a later resume restores it.
    [rollout] = env.rollouts()
    folded = prompt_input(fold_resume(rollout).history)
    assert folded[: len(second)] == second
    assert [_text(item) for item in folded[len(second):]] == ["done"]


def test_nothing_is_added_when_nothing_changed(env: ExecEnv, server: ModelServer) -> None:
    _run(env, "-s", "read-only", "first")
    _run(env, "-s", "read-only", "resume", "--last", "second")
    # The resumed turn's settings are the baseline of the next one.
    _run(env, "-s", "workspace-write", "resume", "--last", "third")
    _run(env, "-s", "workspace-write", "resume", "--last", "fourth")
    first, second, third, fourth = _sent(server)
    assert second == [*first, second[len(first)], second[-1]]
    assert [_text(item) for item in second[len(first):]] == ["done", "second"]
    assert _tag(_text(third[-2]), "sandbox_mode") == "workspace-write"
    assert [_text(item) for item in fourth[len(third):]] == ["done", "fourth"]


def test_another_approval_policy_is_told(env: ExecEnv, server: ModelServer) -> None:
    _run(env, "-a", "never", "first")
    _run(env, "-a", "on-request", "resume", "--last", "second")
    first, second = _sent(server)
    assert _tag(_text(first[0]), "approval_policy") == "never"
    assert _tag(_text(second[-2]), "approval_policy") == "on-request"


def test_another_model_gets_a_model_switch_message_first(
    env: ExecEnv, server: ModelServer
) -> None:
    _run(env, "first")
    _run(env, "-m", "other-model", "resume", "--last", "second")
    first, second = _sent(server)
    added = second[len(first) + 1 : -1]
    assert [item["role"] for item in added] == ["developer"]
    assert _text(added[0]).startswith("<model_switch>\n")
    assert "mock-model" in _text(added[0])
    assert "other-model" in _text(added[0])
    assert server.model_requests()[-1].body["model"] == "other-model"


def test_a_resume_from_another_folder_tells_the_new_cwd(
    env: ExecEnv, server: ModelServer, tmp_path: Path
) -> None:
    _run(env, "first")
    [rollout] = env.rollouts()
    thread_id = rollout_lines(rollout)[0]["payload"]["id"]
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(env.workspace, elsewhere)
    moved = ExecEnv(env.home, elsewhere, env.base_url)
    _run(moved, "resume", thread_id, "second")
    first, second = _sent(server)
    assert _tag(_text(first[0]), "cwd") == str(env.workspace)
    assert _tag(_text(second[-2]), "cwd") == str(elsewhere)


def test_a_codex_session_resumed_in_another_folder_and_sandbox(
    env: ExecEnv, server: ModelServer, tmp_path: Path
) -> None:
    # The Codex session as it was before its own resume: one workspace-write turn in
    # /home/dev/project.
    lines = CODEX_ROLLOUT.read_bytes().splitlines(keepends=True)
    end = next(i for i, line in enumerate(lines) if b'"task_complete"' in line)
    meta = json.loads(lines[0])["payload"]
    day = env.home / "sessions" / "2026" / "11" / "21"
    day.mkdir(parents=True)
    path = day / f"rollout-2026-11-21T05-25-05-{meta['id']}.jsonl"
    path.write_bytes(b"".join(lines[: end + 1]))
    restored = prompt_input(fold_resume(path).history)
    _run(env, "-s", "read-only", "resume", meta["id"], "again")
    [sent] = _sent(server)
    # Codex's history as it would restore it, then the new situation and the prompt.
    assert sent[: len(restored)] == restored
    fresh = _text(sent[-2])
    assert _tag(fresh, "cwd") == str(env.workspace)
    assert _tag(fresh, "sandbox_mode") == "read-only"
    assert _text(sent[-1]) == "again"
