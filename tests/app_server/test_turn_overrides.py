"""turn/start's own settings (model, effort, approvalPolicy, sandboxPolicy) reach the
runtime as Codex's app-server sends them: the turn's ``turn_context`` records them, the
model request uses them, and the turns after it keep them; what llmx cannot take is a
one-line error before anything is submitted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from e2e.exec_harness import needs_sandbox
from support.app_server_client import AppServer, drive_turn, make_home
from support.model_server import scripted

KEY = {"LLMX_TEST_MODEL_KEY": "k"}
SCRIPT = {"turns": [
    {"match": "plain", "items": [{"type": "message", "text": "Plain."}]},
    {"match": "switched", "items": [{"type": "message", "text": "Switched."}]},
    {"match": "kept", "items": [{"type": "message", "text": "Kept."}]},
]}


def _start_turn(server: AppServer, thread_id: str, text: str, **overrides: Any) -> Any:
    return server.call("turn/start", {"threadId": thread_id, **overrides,
                                      "input": [{"type": "text", "text": text}]})


def test_turn_settings_apply_to_the_turn_and_after(tmp_path: Path) -> None:
    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = tmp_path / "work"
        work.mkdir()
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            thread_id = server.start_thread(cwd=str(work), approvalPolicy="never",
                                            sandbox="read-only")
            drive_turn(server, thread_id, "plain")
            # Refused before anything reaches the thread.
            nowhere = _start_turn(server, thread_id, "x", cwd=str(tmp_path / "none"))["error"]
            assert nowhere["message"] == f"turn/start: cwd {tmp_path / 'none'} is not a directory"
            granular = _start_turn(server, thread_id, "x",
                                   approvalPolicy={"granular": {}})["error"]
            assert granular["message"] == "askForApproval.granular is not supported by llmx"

            switched = drive_turn(server, thread_id, "switched", settings={
                "model": "other-model", "effort": "high", "approvalPolicy": "untrusted",
                "cwd": str(work), "sandboxPolicy": {"type": "dangerFullAccess"}})
            assert switched[-1]["params"]["turn"]["status"] == "completed"
            drive_turn(server, thread_id, "kept")
            resumed = server.call("thread/resume", {"threadId": thread_id})["result"]
        bodies = [request.body for request in model.model_requests()]
    assert [body["model"] for body in bodies] == ["mock-model", "other-model", "other-model"]
    assert [(body.get("reasoning") or {}).get("effort") for body in bodies][1:] == [
        "high", "high"]
    [rollout] = sorted((home / "sessions").rglob("rollout-*.jsonl"))
    contexts = [json.loads(line)["payload"] for line in rollout.read_text().splitlines()
                if json.loads(line)["type"] == "turn_context"]
    assert [(c["model"], c["approval_policy"], c["sandbox_policy"]["type"], c.get("effort"))
            for c in contexts] == [
        ("mock-model", "never", "read-only", None),
        ("other-model", "untrusted", "danger-full-access", "high"),
        ("other-model", "untrusted", "danger-full-access", "high"),
    ]
    # The thread answers with the settings it now runs with.
    assert resumed["model"] == "other-model"
    assert resumed["approvalPolicy"] == "untrusted"
    assert resumed["sandbox"] == {"type": "dangerFullAccess"}


CWD_SCRIPT = {"turns": [
    {"match": "in work", "items": [{"type": "shell", "command": "touch made-in-work.txt"}]},
    {"match": "in work", "items": [{"type": "message", "text": "Made."}]},
    # It sleeps before the write the sandbox refuses: refused at once, a command is a
    # failed start with no item (as in Codex), and the item's cwd is what is checked.
    {"match": "in other", "items": [
        {"type": "shell",
         "command": "pwd > here.txt; sleep 0.3; touch ../work/from-other.txt"}]},
    {"match": "in other", "items": [{"type": "message", "text": "Tried."}]},
    {"match": "kept", "items": [{"type": "shell", "command": "pwd > kept.txt"}]},
    {"match": "kept", "items": [{"type": "message", "text": "Kept."}]},
]}


def _environment_cwds(body: dict[str, Any]) -> list[str]:
    """The cwds the request's environment contexts tell the model, in order."""
    text = json.dumps(body["input"])
    return [part.split("<\\/cwd>")[0].split("</cwd>")[0]
            for part in text.split("<cwd>")[1:]]


@needs_sandbox
def test_a_turn_runs_in_its_own_cwd_and_writes_only_there(tmp_path: Path) -> None:
    """turn/start's cwd, as Codex honours it: the turn's commands run there, the
    workspace-write sandbox lets them write there and no longer in the thread's folder
    (checked by the kernel), the turn's turn_context records it, the model is told, and
    the turns after it keep it."""
    with scripted(CWD_SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work, other = tmp_path / "work", tmp_path / "other"
        work.mkdir()
        other.mkdir()
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            # Both folders are under /tmp: only the workspace may be writable.
            thread_id = server.start_thread(
                cwd=str(work), approvalPolicy="never", sandbox="workspace-write",
                config={"sandbox_workspace_write.exclude_slash_tmp": True,
                        "sandbox_workspace_write.exclude_tmpdir_env_var": True})
            drive_turn(server, thread_id, "in work")
            moved = drive_turn(server, thread_id, "in other", settings={"cwd": str(other)})
            drive_turn(server, thread_id, "kept")
            resumed = server.call("thread/resume", {"threadId": thread_id})["result"]
        bodies = [request.body for request in model.model_requests()]
    assert (work / "made-in-work.txt").exists()
    assert (other / "here.txt").read_text().strip() == str(other)
    assert not (work / "from-other.txt").exists()  # the thread's folder is not the workspace
    assert (other / "kept.txt").read_text().strip() == str(other)
    commands = [m["params"]["item"] for m in moved if m.get("method") == "item/completed"
                and m["params"]["item"]["type"] == "commandExecution"]
    assert [item["cwd"] for item in commands] == [str(other)]
    assert "Permission denied" in commands[0]["aggregatedOutput"] or \
        "Read-only file system" in commands[0]["aggregatedOutput"]
    # The model is told the new cwd when the turn opens (and not again after).
    assert _environment_cwds(bodies[0]) == [str(work)]
    assert _environment_cwds(bodies[2])[-1] == str(other)
    assert _environment_cwds(bodies[4]) == _environment_cwds(bodies[2])
    [rollout] = sorted((home / "sessions").rglob("rollout-*.jsonl"))
    contexts = [json.loads(line)["payload"] for line in rollout.read_text().splitlines()
                if json.loads(line)["type"] == "turn_context"]
    assert [context["cwd"] for context in contexts] == [str(work), str(other), str(other)]
    assert resumed["cwd"] == str(other)
