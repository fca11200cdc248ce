"""Codex's Python SDK runs turns against ``llmx app-server``: two turns, one command
approval accepted and one declined, then a resume from a new process."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from e2e.exec_harness import make_env, needs_sandbox, rollout_lines
from support.app_server_client import make_home
from support.model_server import scripted
from support.waits import WAIT_SECONDS

openai_codex = pytest.importorskip(
    "openai_codex", reason="openai-codex (Codex's Python SDK) is not installed; scripts/check "
    "installs it from the package index",
)
from openai_codex.api import Thread  # noqa: E402
from openai_codex.client import CodexClient  # noqa: E402

LLMX = Path(sys.executable).with_name("llmx")
pytestmark = [
    pytest.mark.skipif(not LLMX.exists(), reason="no llmx console script beside the test "
                       "interpreter (install llmx into the environment)"),
    # The SDK's close() leaves its subprocess pipes for the garbage collector.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

SCRIPT = {"turns": [
    {"match": "create the marker", "items": [
        {"type": "shell", "command": "touch accepted.txt && echo created"}]},
    {"items": [{"type": "message", "text": "Created accepted.txt."}]},
    {"match": "create another", "items": [{"type": "shell", "command": "touch declined.txt"}]},
    {"items": [{"type": "message", "text": "You declined it."}]},
    {"match": "what did we do", "items": [{"type": "message", "text": "One made, one not."}]},
]}


def config(home: Path, workspace: Path) -> Any:
    return openai_codex.CodexConfig(codex_bin=str(LLMX), cwd=str(workspace),
                                    env={"LLMX_HOME": str(home), "LLMX_TEST_MODEL_KEY": "k"})


PROMPTS = ("create the marker file", "create another file", "what did we do")


@needs_sandbox
def test_two_turns_with_approvals_then_a_resume(tmp_path: Path) -> None:
    with scripted(SCRIPT) as server:
        home = make_home(tmp_path, server.base_url)
        workspace = tmp_path / "project"
        workspace.mkdir()
        subprocess.run(["git", "init", "-q", str(workspace)], check=True, timeout=WAIT_SECONDS)
        answers = itertools.cycle(["accept", "decline"])
        asked: list[tuple[str, Any]] = []

        def decide(method: str, params: Any) -> dict[str, Any]:
            asked.append((method, params))
            return {"decision": next(answers)}

        client = CodexClient(config(home, workspace), approval_handler=decide)
        client.start()
        try:
            client.initialize()
            started = client.thread_start({"approvalPolicy": "untrusted",
                                           "sandbox": "workspace-write",
                                           "cwd": str(workspace)})
            thread = Thread(client, started.thread.id)
            first = thread.run(PROMPTS[0])
            second = thread.run(PROMPTS[1])
        finally:
            client.close()
        assert first.status.value == "completed"
        assert first.final_response == "Created accepted.txt."
        assert second.final_response == "You declined it."
        assert [m for m, _ in asked] == ["item/commandExecution/requestApproval"] * 2
        commands = [i.root for i in [*first.items, *second.items]
                    if i.root.type == "commandExecution"]
        assert [c.status.value for c in commands] == ["completed", "declined"]
        assert first.usage is not None
        assert (workspace / "accepted.txt").exists()
        assert not (workspace / "declined.txt").exists()

        # A new process resumes the thread, with the settings it was started with.
        client = CodexClient(config(home, workspace), approval_handler=decide)
        client.start()
        try:
            client.initialize()
            resumed = client.thread_resume(started.thread.id, {
                "approvalPolicy": "untrusted", "sandbox": "workspace-write"})
            assert [t.status.value for t in resumed.thread.turns] == ["completed"] * 2
            third = Thread(client, resumed.thread.id).run(PROMPTS[2])
        finally:
            client.close()
        assert third.final_response == "One made, one not."
        last_input = json.dumps(server.model_requests()[-1].body["input"])
        assert "create the marker file" in last_input
        assert "create another file" in last_input

    [rollout] = sorted((home / "sessions").rglob("rollout-*.jsonl"))
    lines = [json.loads(line) for line in rollout.read_text().splitlines()]
    decisions = [line["payload"] for line in lines if line["type"] == "submission"
                 and line["payload"]["op"]["type"] == "exec_approval"]
    assert [(d["op"]["decision"], d["decided_by"]) for d in decisions] == [
        ("approved", "client"), ("denied", "client")]
    requests = [line for line in lines if line["type"] == "event_msg"
                and line["payload"]["type"] == "exec_approval_request"]
    assert len(requests) == 2

    # The same conversation through ``llmx exec`` writes the same rollout.
    (tmp_path / "exec").mkdir()
    exec_rollout = exec_conversation(tmp_path / "exec")
    assert normalized(rollout) == normalized(exec_rollout)


def exec_conversation(root: Path) -> Path:
    """The three prompts through ``llmx exec`` and ``exec resume``, deciding as the SDK's
    client did (approve, then deny) with ``--approval-decision``."""
    with scripted(SCRIPT) as server:
        env = make_env(root, server.base_url)
        flags = ["-a", "untrusted", "-s", "workspace-write", "--skip-git-repo-check"]
        first = env.run(*flags, "--approval-decision", "approved", PROMPTS[0])
        assert first.returncode == 0, first.stderr
        [rollout] = env.rollouts()
        thread_id = rollout_lines(rollout)[0]["payload"]["id"]
        second = env.run(*flags, "--approval-decision", "denied", "resume", thread_id,
                         PROMPTS[1])
        assert second.returncode == 0, second.stderr
        third = env.run(*flags, "resume", thread_id, PROMPTS[2])
        assert third.returncode == 0, third.stderr
    return rollout


_IDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
                  r"|(?:call|msg|rs|fc|resp)_[0-9a-f]{16,}")
_TIMES = {"timestamp", "started_at", "completed_at", "duration_ms", "duration",
          "started_at_ms", "completed_at_ms", "current_date", "timezone",
          # model_request: when each attempt was sent, how long each event was waited for
          "started_ms", "ms"}
# Who started the thread and who answered are meant to differ: an IDE client over
# JSON-RPC against exec's command line.
_FRONTEND = {"originator", "source", "decided_by"}


def normalized(path: Path) -> list[Any]:
    """The rollout's lines with ids numbered in order of appearance; times, the working
    directory and the frontend's identity left out; without the shutdown submissions
    (exec shuts its thread down after every run, the server when the client leaves) and
    the submission numbers, which count them."""
    names: dict[str, str] = {}
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    cwd = lines[0]["payload"]["cwd"]

    def scrub(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items() if k not in _TIMES | _FRONTEND}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if isinstance(value, str):
            text = value.replace(cwd, "<cwd>")
            text = re.sub(r"Wall time: [0-9.]+ seconds", "Wall time: <t> seconds", text)
            text = re.sub(r"Chunk ID: [0-9a-f]+", "Chunk ID: <chunk>", text)
            return _IDS.sub(lambda m: names.setdefault(m.group(0), f"<id{len(names)}>"), text)
        return value

    kept = []
    for line in lines:
        payload = line["payload"]
        if line["type"] == "submission" and payload["op"]["type"] == "shutdown":
            continue
        if line["type"] == "submission":
            # Submission numbers count the shutdowns too.
            payload = {k: v for k, v in payload.items() if k != "id"}
        if line["type"] == "decision":
            payload = {k: v for k, v in payload.items() if k != "submission_id"}
        kept.append((line["type"], scrub(payload)))
    return kept
