"""A running command's output reaches the client while it runs, as Codex streams it:
``item/commandExecution/outputDelta`` notifications folded from the runtime's
``exec_command_output_delta`` events, secrets redacted, persisted only when asked."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from support.app_server_client import AppServer, drive_turn, make_home
from support.model_server import scripted

# Waits (up to 30 s) for the test to create ``go``, which it does once it has seen
# the first line: the second line is only printed if the first reached the client while
# the command was still running.
WAITING_COMMAND = ("printf 'first line\\n'; i=0; while [ ! -e go ] && [ $i -lt 600 ]; "
                   "do sleep 0.05; i=$((i+1)); done; [ -e go ] && printf 'second line\\n'; "
                   "printf 'on stderr\\n' >&2")
TOKEN = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2"
SECRET_COMMAND = f"echo 'the key is {TOKEN}'"

SCRIPT = {"turns": [
    {"match": "run the waiting command", "items": [{"type": "shell", "command": WAITING_COMMAND}]},
    {"items": [{"type": "message", "text": "It ran."}]},
    {"match": "print the key", "items": [{"type": "shell", "command": SECRET_COMMAND}]},
    {"items": [{"type": "message", "text": "Printed."}]},
]}


def _run_both_turns(tmp_path: Path, extra: str) -> tuple[list[dict[str, Any]], Path]:
    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url, extra)
        workspace = tmp_path / "work"
        workspace.mkdir()
        with AppServer(home, workspace, env={"LLMX_TEST_MODEL_KEY": "k"}) as server:
            server.initialize()
            thread_id = server.start_thread(cwd=str(workspace), approvalPolicy="never",
                                            sandbox="danger-full-access")

            def release(message: dict[str, Any]) -> None:
                if (message.get("method") == "item/commandExecution/outputDelta"
                        and "first line" in message["params"]["delta"]):
                    (workspace / "go").touch()

            seen = drive_turn(server, thread_id, "run the waiting command", on_message=release)
            seen += drive_turn(server, thread_id, "print the key")
    [rollout] = sorted((home / "sessions").rglob("rollout-*.jsonl"))
    return seen, rollout


def _commands(seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["params"]["item"] for m in seen if m.get("method") == "item/completed"
            and m["params"]["item"]["type"] == "commandExecution"]


def test_output_streams_while_the_command_runs_and_secrets_stay_out(tmp_path: Path) -> None:
    seen, rollout = _run_both_turns(tmp_path, "")
    waiting, secret = _commands(seen)
    assert waiting["status"] == "completed"
    deltas: dict[str, str] = {}
    for index, message in enumerate(seen):
        if message.get("method") != "item/commandExecution/outputDelta":
            continue
        params = message["params"]
        deltas[params["itemId"]] = deltas.get(params["itemId"], "") + params["delta"]
        # Every delta comes before its item completes.
        completed = next(i for i, m in enumerate(seen) if m.get("method") == "item/completed"
                         and m["params"]["item"]["id"] == params["itemId"])
        assert index < completed
    # Both streams, whole, in the order they were written.
    assert deltas[waiting["id"]] == "first line\nsecond line\non stderr\n"
    assert deltas[waiting["id"]] == waiting["aggregatedOutput"]
    assert deltas[secret["id"]] == "the key is [REDACTED]\n"
    assert TOKEN not in json.dumps(seen)
    # Not persisted by default (Codex never persists them).
    assert "exec_command_output_delta" not in rollout.read_text()


def test_persist_deltas_keeps_them_redacted(tmp_path: Path) -> None:
    seen, rollout = _run_both_turns(tmp_path, "[rollout]\npersist_deltas = true\n")
    lines = [json.loads(line) for line in rollout.read_text().splitlines()]
    recorded = [line["payload"] for line in lines if line["type"] == "event_msg"
                and line["payload"]["type"] == "exec_command_output_delta"]
    waiting, secret = _commands(seen)
    by_call = {waiting["id"]: b"", secret["id"]: b""}
    for delta in recorded:
        assert delta["stream"] in ("stdout", "stderr")
        by_call[delta["call_id"]] += base64.b64decode(delta["chunk"])
    assert by_call[waiting["id"]] == b"first line\nsecond line\non stderr\n"
    assert by_call[secret["id"]] == b"the key is [REDACTED]\n"
    assert TOKEN not in rollout.read_text()
