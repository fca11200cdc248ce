"""A sandboxed command the sandbox refuses as it starts is reported as Codex 0.169 reports
it: no command item on any frontend, its output only in the call's output to the model,
and, llmx's own, a ``sandbox_denial`` line that keeps the attempt on record.

Codex's unified exec watches a new process for 150 ms before it tells its start; one that
ended by then with output that reads as a sandbox denial is a failed start (see
``tests/fixtures/codex/exec-json/shell_readonly_denied_json.jsonl``: no
``command_execution`` item). A command that fails otherwise, or is refused only after that
window, is an item as before. Real ``llmx exec`` runs under the kernel sandbox, read-only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from e2e.exec_harness import (
    assert_replay_equals_live,
    completed_items,
    events,
    make_env,
    needs_sandbox,
    rollout_lines,
)
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import WAIT_SECONDS

# Refused at once: the write fails as the shell starts.
DENIED_AT_ONCE = "echo hello > out.txt && cat out.txt"
# Fails, but not for the sandbox: an item as any failed command.
FAILS_OTHERWISE = "ls does-not-exist"
# Refused only after the start was told (it sleeps past the window first).
DENIED_LATER = "sleep 0.4; echo late > late.txt"
SCRIPT = {"turns": [
    [{"type": "shell", "command": DENIED_AT_ONCE}],
    [{"type": "shell", "command": FAILS_OTHERWISE}],
    [{"type": "shell", "command": DENIED_LATER}],
    [{"type": "message", "text": "Could not write."}],
]}


def _json_items(stdout: str) -> list[dict[str, Any]]:
    return [event["item"] for line in stdout.splitlines()
            if (event := json.loads(line)).get("type") == "item.completed"]


@needs_sandbox
def test_a_start_the_sandbox_refused_is_no_item_but_stays_on_record(tmp_path: Path) -> None:
    with ModelServer(Script.from_json(SCRIPT)) as server:
        env = make_env(tmp_path, server.base_url)
        # The commands run as ``bash -lc``: a HOME of their own keeps the login shell from
        # reading this machine's profile (which can take longer than the 150 ms window).
        user_home = tmp_path / "user"
        user_home.mkdir()
        live = env.run("--json", "-s", "read-only", "write hello to out.txt",
                       env=env.env(HOME=str(user_home)))
        assert live.returncode == 0, live.stderr
        requests = server.model_requests()
    [rollout] = env.rollouts()
    assert not (env.workspace / "out.txt").exists()

    # What Codex shows: only the two commands that started are items.
    commands = [item["command"] for item in _json_items(live.stdout)
                if item["type"] == "command_execution"]
    assert len(commands) == 2, live.stdout
    assert FAILS_OTHERWISE in commands[0]
    assert DENIED_LATER in commands[1]
    recorded = completed_items(rollout, "CommandExecution")
    assert [item["status"] for item in recorded] == ["failed", "failed"]
    started = [e["item"]["command"][-1] for e in events(rollout, "item_started")
               if e["item"]["type"] == "CommandExecution"]
    assert started == [FAILS_OTHERWISE, DENIED_LATER]

    # The attempt itself is on record, before the call's output.
    lines = rollout_lines(rollout)
    [denial_at] = [i for i, line in enumerate(lines) if line["type"] == "sandbox_denial"]
    denial = lines[denial_at]["payload"]
    assert denial["command"][-1] == DENIED_AT_ONCE
    assert denial["exit_code"] == 1
    assert denial["cwd"] == str(env.workspace)
    calls = [line["payload"] for line in lines if line["type"] == "response_item"
             and line["payload"]["type"] == "function_call"]
    assert denial["call_id"] == calls[0]["call_id"]
    [output_at] = [i for i, line in enumerate(lines) if line["type"] == "response_item"
                   and line["payload"].get("call_id") == denial["call_id"]
                   and line["payload"]["type"] == "function_call_output"]
    assert denial_at < output_at
    # The model is told what the shell said, as for any failed command.
    told = next(item["output"] for item in requests[1].body["input"]
                if item.get("type") == "function_call_output")
    assert "Process exited with code 1" in told
    assert "Read-only file system" in told

    # Replay shows what the live run showed.
    assert_replay_equals_live(env, rollout, live, as_json=True)

    # The audit lists it as the failed command it was, denied by the sandbox, on record.
    done = subprocess.run(
        [sys.executable, "-m", "llmx", "inspect", "--json", "--denied", str(rollout)],
        capture_output=True, text=True, env=env.env(), timeout=WAIT_SECONDS, check=False)
    assert done.returncode == 0, done.stderr
    [turn] = json.loads(done.stdout)["turns"]
    rows = [(c["command"], c["status"], c["exit_code"], c["denied_by"], c["provenance"])
            for c in turn["commands"]]
    assert rows[0] == (DENIED_AT_ONCE, "failed", 1, "sandbox", "recorded")
    assert (rows[-1][0], rows[-1][3]) == (DENIED_LATER, "sandbox")
