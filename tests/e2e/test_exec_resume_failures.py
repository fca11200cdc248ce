"""A resumed run that fails before its request reached the model: on record as a failure,
absent from the model's history."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from e2e.exec_harness import STDIN_NOTICE, events, make_env, rollout_lines
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import WAIT_SECONDS


def _user_texts(body: dict[str, object]) -> list[str]:
    items = body["input"]
    assert isinstance(items, list)
    return [part["text"] for item in items if item.get("type") == "message"
            and item.get("role") == "user" for part in item["content"]]


def test_a_resume_without_api_key_is_a_recorded_failure_the_model_never_sees(
    tmp_path: Path,
) -> None:
    script = {"turns": [], "fallback": [{"type": "message", "text": "ok"}]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        assert env.run("first question").returncode == 0
        [rollout] = env.rollouts()
        before = len(rollout_lines(rollout))
        no_key = env.env()
        del no_key["LLMX_TEST_MODEL_KEY"]
        failed = env.run("resume", "--last", "retry me", env=no_key)
        assert failed.returncode == 1
        assert "LLMX_TEST_MODEL_KEY" in failed.stderr
        appended = rollout_lines(rollout)[before:]
        # The failure is on record: the turn, what was asked, the error, a failed end...
        [complete] = [line["payload"] for line in appended
                      if line["payload"].get("type") == "task_complete"]
        assert "LLMX_TEST_MODEL_KEY" in complete["error"]["message"]
        assert [line["payload"]["item"]["type"] for line in appended
                if line["payload"].get("type") == "item_completed"] == ["UserMessage"]
        # ...and none of it is model context.
        assert [line["type"] for line in appended
                if line["type"] in ("response_item", "turn_context")] == []
        # A replay shows the failed turn as the run showed it.
        replayed = env.replay(rollout)
        assert replayed.stderr.endswith(failed.stderr.replace(STDIN_NOTICE, ""))
        assert [entry["text"] for entry in map(json.loads, (env.home / "history.jsonl")
                                              .read_text().splitlines())] == ["first question"]
        again = env.run("resume", "--last", "retry me")
        assert again.returncode == 0, again.stderr
        sent = server.model_requests()[-1].body
    # The prompt the model never received is not sent twice when it is asked again.
    assert _user_texts(sent).count("retry me") == 1
    assert _user_texts(sent)[-1] == "retry me"
    statuses = subprocess.run(
        [sys.executable, "-m", "llmx", "inspect", "--json", str(rollout)],
        capture_output=True, text=True, env=env.env(), timeout=WAIT_SECONDS, check=True,
    )
    turns = json.loads(statuses.stdout)["turns"]
    assert [turn["status"] for turn in turns] == ["completed", "failed", "completed"]
    assert events(rollout, "error")


def test_a_resume_past_a_corrupt_line_says_what_it_left_out(tmp_path: Path) -> None:
    script = {"turns": [], "fallback": [{"type": "message", "text": "ok"}]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        assert env.run("first question").returncode == 0
        [rollout] = env.rollouts()
        raw = rollout.read_bytes().split(b"\n")
        # The first question's line, cut short in place (a hand edit, a bad disk block).
        [index] = [n for n, line in enumerate(raw) if b'"first question"' in line
                   and b'"response_item"' in line]
        offset = sum(len(line) + 1 for line in raw[:index])
        raw[index] = raw[index][:40]
        rollout.write_bytes(b"\n".join(raw))
        resumed = env.run("resume", "--last", "second question")
        assert resumed.returncode == 0, resumed.stderr
        sent = server.model_requests()[-1].body
    [warning] = [line for line in resumed.stderr.splitlines() if "warning" in line]
    assert warning.startswith(f"llmx exec: warning: {rollout}: the line at byte {offset} "
                              "cannot be read (not valid JSON")
    assert warning.endswith("left out of the resumed history; 'llmx rollout check' lists "
                            "such lines")
    # Left out indeed: the model never gets the unreadable line.
    assert "first question" not in _user_texts(sent)
    assert _user_texts(sent)[-1] == "second question"
