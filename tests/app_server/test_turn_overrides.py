"""turn/start's own settings (model, effort, approvalPolicy, sandboxPolicy) reach the
runtime as Codex's app-server sends them: the turn's ``turn_context`` records them, the
model request uses them, and the turns after it keep them; what llmx cannot take is a
one-line error before anything is submitted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
            elsewhere = _start_turn(server, thread_id, "x", cwd=str(tmp_path))["error"]
            assert elsewhere["message"].startswith("turn/start: a per-turn cwd")
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
