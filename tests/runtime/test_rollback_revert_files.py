"""A rollback that also reverts the files its turns patched, through the door, with a
loopback model server patching real files in a temporary workspace over two turns.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import WAIT_SECONDS, within

from llmx.events.lines import RolloutLine
from llmx.events.ops import ThreadRollback
from llmx.events.primitives import TextInput
from llmx.runtime import AgentThread, ThreadEvents, ThreadManager, ThreadOptions

KEY_ENV = "LLMX_REVERT_TEST_KEY"
# A model whose catalog entry offers apply_patch (freeform), as Codex's does.
PATCHING_MODEL = "gpt-5.5"

FIRST = ("*** Begin Patch\n*** Add File: notes.txt\n+alpha\n+beta\n"
         "*** Update File: main.py\n@@\n def main():\n-    return 0\n+    return 1\n"
         "*** End Patch")
SECOND = ("*** Begin Patch\n*** Update File: notes.txt\n@@\n alpha\n-beta\n+gamma\n"
          "*** Add File: extra.txt\n+extra\n"
          "*** Delete File: old.txt\n"
          "*** Update File: main.py\n*** Move to: app.py\n@@\n-    return 1\n+    return 2\n"
          "*** End Patch")
SCRIPT = {"turns": [
    {"match": "first", "items": [
        {"type": "custom_tool_call", "name": "apply_patch", "input": FIRST}]},
    {"match": "second", "items": [
        {"type": "custom_tool_call", "name": "apply_patch", "input": SECOND}]},
], "fallback": [{"type": "message", "text": "ok"}]}

MAIN = "import sys\n\n\ndef main():\n    return 0\n\n\nsys.exit(main())\n"


def _config(home: Path, server: ModelServer) -> None:
    home.mkdir(mode=0o700, exist_ok=True)
    (home / "config.toml").write_text(
        f'model = "{PATCHING_MODEL}"\nmodel_provider = "mock"\n'
        "[model_providers.mock]\n"
        f'name = "mock"\nbase_url = "{server.base_url}"\nenv_key = "{KEY_ENV}"\n'
        "request_max_retries = 0\nstream_max_retries = 0\n"
    )


def _workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "project"
    workspace.mkdir()
    subprocess.run(["git", "init", "-q", str(workspace)], check=True, timeout=WAIT_SECONDS)
    (workspace / "main.py").write_text(MAIN)
    (workspace / "old.txt").write_text("old\n")
    return workspace


def _files(workspace: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(workspace.iterdir())
            if path.is_file()}


async def _turn(thread: AgentThread, text: str, ends: ThreadEvents) -> None:
    await thread.submit(thread.user_turn([TextInput(text=text)]))
    await within(_turn_ends(ends), "the turn to end")


async def _turn_ends(events: ThreadEvents) -> None:
    async for line in events:
        if line.payload_type in ("task_complete", "turn_aborted"):
            return


async def _read_all(events: ThreadEvents) -> list[RolloutLine]:
    return [line async for line in events]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in path.read_bytes().splitlines()]


async def _session(tmp_path: Path, *, after_two_turns: Any = None,
                   rollbacks: tuple[ThreadRollback, ...]) -> tuple[Path, Path, dict[str, str]]:
    """Two patching turns, ``after_two_turns(workspace)``, then the rollbacks; the rollout,
    the workspace and the files as they were after the first turn."""
    home = tmp_path / "home"
    workspace = _workspace(tmp_path)
    options = ThreadOptions(cwd=workspace, sandbox_mode="workspace-write",
                            approval_policy="never")
    with ModelServer(Script.from_json(SCRIPT)) as server:
        _config(home, server)
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(options)
            ends = thread.subscribe()
            await _turn(thread, "first", ends)
            after_first = _files(workspace)
            await _turn(thread, "second", ends)
            if after_two_turns is not None:
                after_two_turns(workspace)
            for rollback in rollbacks:
                await thread.submit(rollback)
            await within(thread.close(), "the thread to close")
    path = thread.rollout_path
    assert path is not None
    return path, workspace, after_first


def _payloads(path: Path, kind: str) -> list[dict[str, Any]]:
    return [line["payload"] for line in _lines(path)
            if line["type"] == "event_msg" and line["payload"]["type"] == kind]


@pytest.mark.asyncio
async def test_rolling_back_a_turn_with_revert_leaves_the_files_as_after_the_turn_before(
    tmp_path: Path
) -> None:
    path, workspace, after_first = await _session(
        tmp_path, rollbacks=(ThreadRollback(num_turns=1, revert_files=True),))
    assert after_first == {"main.py": MAIN.replace("return 0", "return 1"),
                           "notes.txt": "alpha\nbeta\n", "old.txt": "old\n"}
    assert _files(workspace) == after_first
    # Recorded: who asked (the submission), what was reverted (a FileChange item of its
    # own, before the rollback's marker, which Codex's readers know).
    lines = _lines(path)
    [asked] = [line["payload"] for line in lines if line["type"] == "submission"
               and line["payload"]["op"]["type"] == "thread_rollback"]
    assert asked["op"] == {"type": "thread_rollback", "num_turns": 1, "revert_files": True}
    assert asked["decided_by"] == "user"
    [reverted] = [payload for payload in _payloads(path, "item_completed")
                  if payload["item"]["id"].startswith("revert-")]
    assert reverted["item"]["id"] == f"revert-{asked['id']}"
    assert reverted["turn_id"] == ""
    assert reverted["item"]["status"] == "completed"
    ws = str(workspace.resolve())
    assert {name: change["type"] for name, change in reverted["item"]["changes"].items()} == {
        f"{ws}/notes.txt": "update", f"{ws}/extra.txt": "delete",
        f"{ws}/old.txt": "add", f"{ws}/main.py": "add", f"{ws}/app.py": "delete"}
    order = [index for index, line in enumerate(lines)
             if line["type"] == "event_msg" and (
                 line["payload"]["type"] == "thread_rolled_back"
                 or line["payload"].get("item", {}).get("id", "").startswith("revert-"))]
    assert [lines[index]["payload"]["type"] for index in order] == [
        "item_started", "item_completed", "thread_rolled_back"]
    assert _payloads(path, "error") == []


def test_a_reverted_rollout_passes_rollout_check(tmp_path: Path) -> None:
    import asyncio

    path, _workspace, _after_first = asyncio.run(_session(
        tmp_path, rollbacks=(ThreadRollback(num_turns=1, revert_files=True),)))
    check = subprocess.run([sys.executable, "-m", "llmx", "rollout", "check", str(path)],
                           capture_output=True, text=True, timeout=WAIT_SECONDS, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.asyncio
async def test_rolling_back_both_turns_with_revert_restores_the_workspace(
    tmp_path: Path
) -> None:
    # One turn at a time: the second rollback reverts what the first left.
    _path, workspace, _after_first = await _session(
        tmp_path, rollbacks=(ThreadRollback(num_turns=1, revert_files=True),
                             ThreadRollback(num_turns=1, revert_files=True)))
    assert _files(workspace) == {"main.py": MAIN, "old.txt": "old\n"}


@pytest.mark.asyncio
async def test_a_file_edited_by_hand_since_refuses_the_revert_and_nothing_changes(
    tmp_path: Path
) -> None:
    def edit(workspace: Path) -> None:
        (workspace / "notes.txt").write_text("alpha\ngamma, edited by hand\n")

    path, workspace, _after_first = await _session(
        tmp_path, after_two_turns=edit,
        rollbacks=(ThreadRollback(num_turns=1, revert_files=True),))
    ws = workspace.resolve()
    # Nothing reverted, not even the files that could have been; no rollback either.
    assert _files(workspace) == {
        "app.py": MAIN.replace("return 0", "return 2"), "extra.txt": "extra\n",
        "notes.txt": "alpha\ngamma, edited by hand\n"}
    [error] = _payloads(path, "error")
    assert error["codex_error_info"] == "thread_rollback_failed"
    assert error["message"] == (
        f"cannot revert {ws}/notes.txt: it changed since the patch (the lines the patch "
        "wrote are not there any more); nothing was reverted")
    assert _payloads(path, "thread_rolled_back") == []
    assert not [payload for payload in _payloads(path, "item_started")
                if payload["item"]["id"].startswith("revert-")]


@pytest.mark.asyncio
async def test_without_the_option_the_files_are_untouched(tmp_path: Path) -> None:
    path, workspace, _after_first = await _session(
        tmp_path, rollbacks=(ThreadRollback(num_turns=1),))
    assert _files(workspace) == {
        "app.py": MAIN.replace("return 0", "return 2"), "extra.txt": "extra\n",
        "notes.txt": "alpha\ngamma\n"}
    assert _payloads(path, "thread_rolled_back") == [
        {"type": "thread_rolled_back", "num_turns": 1}]
    [asked] = [line["payload"] for line in _lines(path) if line["type"] == "submission"
               and line["payload"]["op"]["type"] == "thread_rollback"]
    # The op is Codex's, with nothing added.
    assert asked["op"] == {"type": "thread_rollback", "num_turns": 1}
    assert "decided_by" not in asked


def test_llmx_rollback_with_and_without_revert_files(tmp_path: Path) -> None:
    import asyncio

    # The session: two patching turns, nothing rolled back yet.
    path, workspace, after_first = asyncio.run(_session(tmp_path, rollbacks=()))
    after_second = _files(workspace)
    env = {"PATH": "/usr/bin:/bin", "LLMX_HOME": str(tmp_path / "home"), KEY_ENV: "dummy"}
    thread_id = path.stem[-36:]

    def llmx(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "llmx", *args], cwd=workspace, env=env,
                              capture_output=True, text=True, timeout=WAIT_SECONDS,
                              check=False)

    # A hand edit since the second turn: the revert is refused, nothing changes.
    (workspace / "extra.txt").write_text("extra, edited\n")
    refused = llmx("rollback", thread_id, "--revert-files", "-s", "workspace-write")
    assert refused.returncode == 1
    ws = workspace.resolve()
    assert refused.stderr == (
        f"llmx rollback: cannot revert {ws}/extra.txt: it changed since the patch (it no "
        "longer holds what the patch added); nothing was reverted — run it again without "
        "--revert-files to keep the files as they are\n")
    assert _files(workspace) == {**after_second, "extra.txt": "extra, edited\n"}
    assert _payloads(path, "thread_rolled_back") == []
    (workspace / "extra.txt").write_text("extra\n")

    # A read-only sandbox forbids the writes: refused, naming the file, nothing changed.
    read_only = llmx("rollback", thread_id, "--revert-files", "-s", "read-only")
    assert read_only.returncode == 1
    assert read_only.stderr.startswith(f"llmx rollback: cannot revert {ws}/")
    assert ": the sandbox refuses the write (" in read_only.stderr
    assert read_only.stderr.endswith(
        "; nothing was reverted — run it again with -s workspace-write (the sandbox the "
        "revert writes under), or without --revert-files to keep the files as they are\n")
    assert _files(workspace) == after_second

    reverted = llmx("rollback", thread_id, "--revert-files", "-s", "workspace-write")
    assert reverted.returncode == 0, reverted.stderr
    assert reverted.stdout.splitlines() == [
        f"rolled back 1 turn of {thread_id}",
        f"reverted D {ws}/app.py", f"reverted D {ws}/extra.txt",
        f"reverted A {ws}/main.py", f"reverted M {ws}/notes.txt", f"reverted A {ws}/old.txt",
        "changes made by shell commands were not reverted"]
    assert _files(workspace) == after_first

    # Without the option the files stay as they are. Asked for more turns than the
    # history holds (one is left), all of them go, as in Codex, and the output says so.
    kept = llmx("rollback", thread_id, "--turns", "3", "--json")
    assert kept.returncode == 0, kept.stderr
    assert json.loads(kept.stdout) == {"reverted": [], "thread_id": thread_id,
                                       "num_turns": 3, "turns_dropped": 1}
    assert _files(workspace) == after_first
    assert _payloads(path, "thread_rolled_back") == [
        {"type": "thread_rolled_back", "num_turns": 1},
        {"type": "thread_rolled_back", "num_turns": 3}]
    none_left = llmx("rollback", thread_id, "--turns", "2")
    assert none_left.returncode == 0, none_left.stderr
    assert none_left.stdout == (f"rolled back no turn of {thread_id}: its history has none "
                                "left (2 asked)\n")
    unknown = llmx("rollback", "no-such-session")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("llmx rollback: ")
    assert len(unknown.stderr.splitlines()) == 1
