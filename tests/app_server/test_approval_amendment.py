"""``acceptWithExecpolicyAmendment``: the command runs, and the answer is on record in
Codex's core form (``{"approved_execpolicy_amendment": {...}}``) with who gave it; an
amendment that is not a list of strings refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.app_server_client import AppServer, drive_turn, make_home
from support.model_server import scripted

from llmx.events.reader import read_rollout
from llmx.projections.app_server import fold_rollout

KEY = {"LLMX_TEST_MODEL_KEY": "k"}
SCRIPT = {"turns": [
    {"match": "make one", "items": [{"type": "shell", "command": "touch amended.txt"}]},
    {"items": [{"type": "message", "text": "Made."}]},
    {"match": "make another", "items": [{"type": "shell", "command": "touch refused.txt"}]},
    {"items": [{"type": "message", "text": "Not made."}]},
]}
PREFIX = ["touch", "amended.txt"]


def test_amended_approval_runs_and_is_recorded(tmp_path: Path) -> None:
    answers = iter([
        {"decision": {"acceptWithExecpolicyAmendment": {"execpolicy_amendment": PREFIX}}},
        {"decision": {"acceptWithExecpolicyAmendment": {"execpolicy_amendment": "touch"}}},
    ])

    def decide(method: str, params: Any) -> Any:
        assert method == "item/commandExecution/requestApproval"
        return next(answers)

    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = tmp_path / "work"
        work.mkdir()
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            thread_id = server.start_thread(cwd=str(work), approvalPolicy="untrusted",
                                            sandbox="danger-full-access")
            seen = drive_turn(server, thread_id, "make one", decide)
            seen += drive_turn(server, thread_id, "make another", decide)
    commands = [m["params"]["item"] for m in seen if m.get("method") == "item/completed"
                and m["params"]["item"]["type"] == "commandExecution"]
    assert [c["status"] for c in commands] == ["completed", "declined"]
    assert (work / "amended.txt").exists()
    assert not (work / "refused.txt").exists()

    [rollout] = sorted((home / "sessions").rglob("rollout-*.jsonl"))
    lines = [json.loads(line) for line in rollout.read_text().splitlines()]
    answered = [(line["payload"]["op"]["decision"], line["payload"]["decided_by"])
                for line in lines if line["type"] == "submission"
                and line["payload"]["op"]["type"] == "exec_approval"]
    assert answered == [
        ({"approved_execpolicy_amendment": {"proposed_execpolicy_amendment": PREFIX}},
         "client"),
        ("denied", "client"),
    ]
    decided = [line["payload"]["decision"] for line in lines if line["type"] == "decision"]
    assert decided == ["approved", "denied"]
    # The rollout folds to what the client was told: the amended command ran.
    _, folded = fold_rollout(read_rollout(rollout))
    statuses = [m.params["item"]["status"] for m in folded
                if getattr(m, "method", None) == "item/completed"
                and m.params["item"]["type"] == "commandExecution"]
    assert statuses == ["completed", "declined"]
