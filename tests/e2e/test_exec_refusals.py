"""Refusals and who decided them, through ``llmx exec`` for real: every refusal is a line of
the log, a line of the human output, a declined item in ``--json``, a row of
``inspect --denied``, and the same again in ``replay``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from e2e.exec_harness import (
    PATCHING_MODEL,
    ExecEnv,
    assert_replay_equals_live,
    completed_items,
    make_env,
    rollout_lines,
)
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import WAIT_SECONDS

_ADD = "*** Begin Patch\n*** Add File: added.txt\n+hello\n*** End Patch"
_BROKEN = "*** Begin Patch\n*** Update File: missing.txt\n@@\n-a\n+b\n*** End Patch"
_ESCALATED = {"type": "shell", "command": "echo x > nope.txt",
              "sandbox_permissions": "require_escalated", "justification": "Write nope.txt?"}
# A read-only sandbox under the default policy (never): the patch and the escalation are
# refused without asking anyone; the broken patch fails its verification.
_REFUSED = {"turns": [
    [{"type": "custom_tool_call", "name": "apply_patch", "input": _ADD}],
    [_ESCALATED],
    [{"type": "custom_tool_call", "name": "apply_patch", "input": _BROKEN}],
    [{"type": "message", "text": "Fixed."}],
]}
_PATCH_REFUSAL = "writing is blocked by read-only sandbox; rejected by user approval settings"
_ESCALATION_REFUSAL = (
    "approval policy is Never; reject command — you should not ask for escalated permissions "
    "if the approval policy is Never"
)


def _lines(path: Path, kind: str) -> list[dict[str, Any]]:
    return [line["payload"] for line in rollout_lines(path) if line["type"] == kind]


def _inspect(env: ExecEnv, rollout: Path, *flags: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "llmx", "inspect", "--json", *flags, str(rollout)],
        capture_output=True, text=True, env=env.env(), timeout=WAIT_SECONDS, check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _run(tmp_path: Path, script: dict[str, Any], *args: str
         ) -> tuple[ExecEnv, subprocess.CompletedProcess[str], Path]:
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url, model=PATCHING_MODEL)
        live = env.run(*args)
        assert live.returncode == 0, live.stderr
    [rollout] = env.rollouts()
    return env, live, rollout


def test_refusals_by_the_policy_are_on_record_and_shown(tmp_path: Path) -> None:
    env, live, rollout = _run(tmp_path, _REFUSED, "-s", "read-only", "fix it")
    assert not (env.workspace / "added.txt").exists()
    assert not (env.workspace / "nope.txt").exists()
    # The log: how each question was settled, by the policy, and the calls' items.
    decisions = _lines(rollout, "decision")
    assert [(d["subject"], d["decision"], d["decided_by"], d["reason"]) for d in decisions] == [
        ("patch", "denied", "policy", _PATCH_REFUSAL),
        ("command", "denied", "policy", _ESCALATION_REFUSAL),
    ]
    assert not any("submission_id" in d for d in decisions)
    refused_patch, broken_patch = completed_items(rollout, "FileChange")
    assert (refused_patch["status"], refused_patch["stderr"]) == ("declined", _PATCH_REFUSAL)
    assert refused_patch["id"] == decisions[0]["call_id"]
    assert broken_patch["status"] == "failed"
    assert broken_patch["stderr"].startswith("apply_patch verification failed: ")
    [command] = completed_items(rollout, "CommandExecution")
    assert (command["id"], command["status"]) == (decisions[1]["call_id"], "declined")
    assert "exit_code" not in command
    # The human output: an ERROR line for each, after the call it belongs to.
    assert f"apply patch\npatch: declined\n{env.workspace}/added.txt\nERROR: {_PATCH_REFUSAL}\n" \
        in live.stderr
    assert f"exec\n/bin/bash -lc 'echo x > nope.txt' in {env.workspace}\n declined\n" \
        f"ERROR: {_ESCALATION_REFUSAL}\n" in live.stderr
    assert f"patch: failed\nERROR: {broken_patch['stderr']}\n" in live.stderr
    assert_replay_equals_live(env, rollout, live)
    # inspect: both refusals are rows of --denied, decided by the policy, as recorded.
    report = _inspect(env, rollout, "--denied")
    [turn] = report["turns"]
    assert [(a["kind"], a["decision"], a["decider"], a["provenance"], a["reason"])
            for a in turn["approvals"]] == [
        ("patch", "denied", "policy", "recorded", _PATCH_REFUSAL),
        ("exec", "denied", "policy", "recorded", _ESCALATION_REFUSAL),
    ]
    assert turn["approvals"][0]["subject"] == f"{env.workspace}/added.txt"
    assert turn["approvals"][1]["subject"] == "/bin/bash -lc echo x > nope.txt"
    assert [(c["status"], c["denied_by"]) for c in turn["commands"]] == [("declined", "policy")]
    everything = _inspect(env, rollout)["turns"][0]
    assert [e["message"] for e in everything["errors"]] == [
        broken_patch["stderr"].splitlines()[0]]


def test_refusals_are_declined_items_in_json(tmp_path: Path) -> None:
    env, live, rollout = _run(tmp_path, _REFUSED, "--json", "-s", "read-only", "fix it")
    events = [json.loads(line) for line in live.stdout.splitlines()]
    completed = [event["item"] for event in events if event["type"] == "item.completed"]
    kinds = [(item["type"], item["status"]) for item in completed if "status" in item]
    # Codex's exec items: a command can be declined; a file change completes or fails.
    assert kinds == [("file_change", "failed"), ("command_execution", "declined"),
                     ("file_change", "failed")]
    [command] = [item for item in completed if item["type"] == "command_execution"]
    assert (command["command"], command["exit_code"]) == ("/bin/bash -lc 'echo x > nope.txt'",
                                                          None)
    assert_replay_equals_live(env, rollout, live, as_json=True)


def test_nobody_to_ask_denies_records_it_and_says_how_to_decide_once(tmp_path: Path) -> None:
    second = dict(_ESCALATED, command="echo y > nope2.txt")
    script = {"turns": [[_ESCALATED], [second], [{"type": "message", "text": "Understood."}]]}
    env, live, rollout = _run(tmp_path, script, "-s", "read-only", "-a", "on-request", "write")
    # Run by the test harness: stdin is a pipe, so nobody can be asked.
    submissions = [s for s in _lines(rollout, "submission") if s["op"]["type"] == "exec_approval"]
    assert [(s["op"]["decision"], s["decided_by"]) for s in submissions] == [
        ("denied", "unattended")] * 2
    decisions = _lines(rollout, "decision")
    assert [(d["decided_by"], d["submission_id"]) for d in decisions] == [
        ("unattended", s["id"]) for s in submissions]
    assert [c["status"] for c in completed_items(rollout, "CommandExecution")] == ["declined"] * 2
    notices = [line for line in live.stderr.splitlines() if "nobody can be asked" in line]
    assert len(notices) == 1, live.stderr
    assert notices[0].startswith("llmx exec: warning: ")
    assert "--approval-decision" in notices[0]
    assert live.stderr.count("approval: command denied (nobody could be asked)\n") == 2
    turn = _inspect(env, rollout, "--denied")["turns"][0]
    assert [(a["decider"], a["provenance"]) for a in turn["approvals"]] == [
        ("unattended", "recorded")] * 2
    assert [c["denied_by"] for c in turn["commands"]] == ["unattended"] * 2
    # The notice is exec's own, not the log's: a replay shows everything else.
    replayed = env.replay(rollout)
    assert replayed.stderr == live.stderr.replace(notices[0] + "\n", "").replace(
        "Reading additional input from stdin...\n", "")


def test_preset_decisions_and_a_session_approval_are_recorded_as_such(tmp_path: Path) -> None:
    script = {"turns": [[_ESCALATED], [_ESCALATED], [{"type": "message", "text": "Done."}]]}
    env, live, rollout = _run(tmp_path, script, "-s", "read-only", "-a", "on-request",
                              "--approval-decision", "approved_for_session", "write twice")
    [submission] = [s for s in _lines(rollout, "submission")
                    if s["op"]["type"] == "exec_approval"]
    assert submission["decided_by"] == "preset"
    decisions = _lines(rollout, "decision")
    assert [(d["decision"], d["decided_by"], d.get("submission_id")) for d in decisions] == [
        ("approved_for_session", "preset", submission["id"]), ("approved", "session", None)]
    assert [e["approved_by"] for e in _lines(rollout, "escalation")] == ["preset", "session"]
    assert "approval: command approved_for_session (by --approval-decision)\n" in live.stderr
    assert "approval: command approved (approved earlier for this session)\n" in live.stderr
    turn = _inspect(env, rollout, "--approvals")["turns"][0]
    assert [(a["decision"], a["decider"], a["provenance"]) for a in turn["approvals"]] == [
        ("approved_for_session", "preset", "recorded"), ("approved", "session", "recorded")]
    assert_replay_equals_live(env, rollout, live)


def test_inspect_shows_an_llmx_session_as_recorded(tmp_path: Path) -> None:
    # Under untrusted a known-safe command runs unasked, and an unknown one is asked about.
    script = {"turns": [[{"type": "shell", "command": "echo hi"}],
                        [{"type": "shell", "command": "touch made.txt"}],
                        [{"type": "message", "text": "Done."}]]}
    env, _live, rollout = _run(tmp_path, script, "-s", "workspace-write", "-a", "untrusted",
                               "--approval-decision", "approved", "go")
    sample = Path(__file__).resolve().parents[2] / "examples" / "sample.rollout.jsonl"
    for path in (rollout, sample):
        report = _inspect(env, path)
        for turn in report["turns"]:
            assert turn["program"] == "llmx v0.1.0"
            assert turn["started_at"]
            assert turn["ended_at"]
            entries = turn["commands"] + turn["approvals"] + turn["escalations"]
            # What llmx recorded is shown as recorded: nothing is guessed.
            assert {entry["provenance"] for entry in entries} <= {"recorded"}, path.name
            assert all(c["sandboxed"] is not None for c in turn["commands"]
                       if c["status"] != "declined")
    [turn] = _inspect(env, rollout)["turns"]
    # The known-safe command was not asked about, so it has no approval; the other has one.
    assert [(a["subject"], a["decision"], a["decider"]) for a in turn["approvals"]] == [
        ("/bin/bash -lc touch made.txt", "approved", "preset")]


def test_the_app_server_fold_sends_each_refused_item_once(tmp_path: Path) -> None:
    from llmx.events.reader import read_rollout
    from llmx.projections.app_server.messages import Notification
    from llmx.projections.app_server.notifications import fold_rollout

    # One command refused at its request (nobody to ask), one by the policy unasked.
    (tmp_path / "asked").mkdir()
    (tmp_path / "unasked").mkdir()
    asked = {"turns": [[_ESCALATED], [{"type": "message", "text": "Understood."}]]}
    _env, _live, asked_rollout = _run(tmp_path / "asked", asked, "-s", "read-only",
                                      "-a", "on-request", "write")
    _env, _live, unasked_rollout = _run(tmp_path / "unasked", _REFUSED, "-s", "read-only",
                                        "fix it")
    for rollout, statuses in ((asked_rollout, ["declined"]),
                              (unasked_rollout, ["declined", "declined", "failed"])):
        _, messages = fold_rollout(read_rollout(rollout))
        completed = [m.params["item"] for m in messages if isinstance(m, Notification)
                     and m.method == "item/completed"
                     and m.params["item"]["type"] in ("commandExecution", "fileChange")]
        assert [item["status"] for item in completed] == statuses
        assert len({item["id"] for item in completed}) == len(completed)
