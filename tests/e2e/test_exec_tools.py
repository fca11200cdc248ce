"""``llmx exec`` running tools for real: sandboxed shell, escalation, patches, SIGINT, resume."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from e2e.exec_harness import (
    PATCHING_MODEL,
    STDIN_NOTICE,
    ExecEnv,
    assert_replay_equals_live,
    completed_items,
    events,
    make_env,
    needs_sandbox,
    rollout_lines,
)
from support.model_scripts import Script
from support.model_server import ModelServer


def _lines_of(path: Path, kind: str) -> list[dict[str, object]]:
    return [line["payload"] for line in rollout_lines(path) if line["type"] == kind]


@needs_sandbox
def test_shell_writes_under_workspace_write(tmp_path: Path) -> None:
    script = {"turns": [[{"type": "shell", "command": "echo hello > out.txt && cat out.txt"}],
                        [{"type": "message", "text": "Wrote it."}]]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        live = env.run("-s", "workspace-write", "write hello to out.txt")
        assert live.returncode == 0, live.stderr
        assert (env.workspace / "out.txt").read_text() == "hello\n"
        body = server.model_requests()[-1].body
    [output] = [item for item in body["input"] if item["type"] == "function_call_output"]
    assert "Process exited with code 0" in output["output"]
    # (A login shell may print its own noise around it, as under Codex.)
    assert "\nhello\n" in output["output"]
    [rollout] = env.rollouts()
    [command] = completed_items(rollout, "CommandExecution")
    assert command["exit_code"] == 0
    assert_replay_equals_live(env, rollout, live)


@needs_sandbox
def test_json_item_started_says_in_progress(tmp_path: Path) -> None:
    script = {"turns": [[{"type": "shell", "command": "echo hi"}],
                        [{"type": "message", "text": "Said hi."}]]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        live = env.run("--json", "-s", "workspace-write", "say hi in the shell")
        assert live.returncode == 0, live.stderr
    lines = [json.loads(line) for line in live.stdout.splitlines()]
    [started] = [line["item"] for line in lines if line["type"] == "item.started"]
    [done] = [line["item"] for line in lines if line["type"] == "item.completed"
              and line["item"]["type"] == "command_execution"]
    # As Codex prints it: running, no exit code yet; then the outcome under the same id.
    assert started["status"] == "in_progress"
    assert started["exit_code"] is None
    assert (done["id"], done["status"], done["exit_code"]) == (started["id"], "completed", 0)
    [rollout] = env.rollouts()
    assert_replay_equals_live(env, rollout, live, as_json=True)


@needs_sandbox
def test_read_only_denial_then_approved_escalation(tmp_path: Path) -> None:
    script = {"turns": [
        [{"type": "shell", "command": "echo x > ro_retry.txt"}],
        [{"type": "shell", "command": "echo x > ro_retry.txt",
          "sandbox_permissions": "require_escalated",
          "justification": "Write the file the user asked for?"}],
        [{"type": "message", "text": "Done after escalation."}],
    ]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        live = env.run("-s", "read-only", "-a", "on-request",
                       "--approval-decision", "approved", "write ro_retry.txt")
        assert live.returncode == 0, live.stderr
        requests = server.model_requests()
    # The first, sandboxed attempt was refused by the kernel: the file came from the second.
    first_output = next(item for item in requests[1].body["input"]
                        if item["type"] == "function_call_output")["output"]
    assert "Read-only file system" in first_output
    assert (env.workspace / "ro_retry.txt").read_text() == "x\n"
    [rollout] = env.rollouts()
    lines = rollout_lines(rollout)
    kinds = [(line["type"], line["payload"].get("type")) for line in lines]
    [request] = events(rollout, "exec_approval_request")
    assert request["reason"] == "Write the file the user asked for?"
    [decision_index] = [i for i, line in enumerate(lines) if line["type"] == "submission"
                        and line["payload"]["op"]["type"] == "exec_approval"]
    [escalation_index] = [i for i, kind in enumerate(kinds) if kind[0] == "escalation"]
    escalation = lines[escalation_index]["payload"]
    assert escalation["mode"] == "unsandboxed"
    # Answered by --approval-decision, given before the run, not by a person at a prompt.
    assert escalation["approved_by"] == "preset"
    assert lines[decision_index]["payload"]["decided_by"] == "preset"
    assert escalation["decision_submission_id"] == lines[decision_index]["payload"]["id"]
    # Decision, then the escalation record, then the command's result.
    second_call = completed_items(rollout, "CommandExecution")[-1]
    completed_index = next(i for i, line in enumerate(lines)
                           if line["type"] == "event_msg"
                           and line["payload"].get("item", {}).get("id") == second_call["id"]
                           and line["payload"]["type"] == "item_completed")
    assert decision_index < escalation_index < completed_index
    assert_replay_equals_live(env, rollout, live)


@needs_sandbox
def test_denied_escalation_is_refused_and_the_turn_goes_on(tmp_path: Path) -> None:
    script = {"turns": [
        [{"type": "shell", "command": "echo x > nope.txt",
          "sandbox_permissions": "require_escalated", "justification": "write?"}],
        [{"type": "message", "text": "Understood."}],
    ]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        live = env.run("-s", "read-only", "-a", "on-request", "write nope.txt")
        assert live.returncode == 0, live.stderr
        body = server.model_requests()[-1].body
    [output] = [item for item in body["input"] if item["type"] == "function_call_output"]
    assert "rejected by user" in output["output"]
    assert not (env.workspace / "nope.txt").exists()
    [rollout] = env.rollouts()
    assert _lines_of(rollout, "escalation") == []


def test_escalation_request_under_never_is_rejected_without_asking(tmp_path: Path) -> None:
    script = {"turns": [
        [{"type": "shell", "command": "echo x > nope.txt",
          "sandbox_permissions": "require_escalated", "justification": "write?"}],
        [{"type": "message", "text": "Understood."}],
    ]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        live = env.run("-s", "read-only", "write nope.txt")
        assert live.returncode == 0, live.stderr
        body = server.model_requests()[-1].body
    [output] = [item for item in body["input"] if item["type"] == "function_call_output"]
    assert output["output"].startswith("approval policy is Never; reject command")
    [rollout] = env.rollouts()
    assert events(rollout, "exec_approval_request") == []


def test_apply_patch_adds_updates_deletes_and_moves(tmp_path: Path) -> None:
    patch = (
        "*** Begin Patch\n*** Add File: src/added.py\n+def hello():\n+    return 1\n"
        "*** Update File: update_me.txt\n@@\n one\n-two\n+two (patched)\n"
        "*** Delete File: delete_me.txt\n"
        "*** Update File: rename_me.txt\n*** Move to: renamed.txt\n@@\n-alpha\n+beta\n"
        "*** End Patch"
    )
    script = {"turns": [
        [{"type": "custom_tool_call", "name": "apply_patch", "input": patch}],
        [{"type": "custom_tool_call", "name": "apply_patch",
          "input": "*** Begin Patch\n*** Add File: ../escape.txt\n+no\n*** End Patch"}],
        [{"type": "message", "text": "Patched."}],
    ]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url, model=PATCHING_MODEL)
        (env.workspace / "update_me.txt").write_text("one\ntwo\n")
        (env.workspace / "delete_me.txt").write_text("obsolete\n")
        (env.workspace / "rename_me.txt").write_text("alpha\n")
        # The temporary directory is under /tmp, which workspace-write makes writable.
        live = env.run("-s", "workspace-write",
                       "-c", "sandbox_workspace_write.exclude_slash_tmp=true",
                       "-c", "sandbox_workspace_write.exclude_tmpdir_env_var=true", "refactor")
        assert live.returncode == 0, live.stderr
        requests = server.model_requests()
    ws = env.workspace
    assert (ws / "src/added.py").read_text() == "def hello():\n    return 1\n"
    assert (ws / "update_me.txt").read_text() == "one\ntwo (patched)\n"
    assert not (ws / "delete_me.txt").exists()
    assert not (ws / "rename_me.txt").exists()
    assert (ws / "renamed.txt").read_text() == "beta\n"
    assert not (tmp_path / "escape.txt").exists()
    outputs = [item["output"] for item in requests[-1].body["input"]
               if item["type"] == "custom_tool_call_output"]
    assert outputs[0].startswith("Exit code: 0\n")
    assert outputs[0].endswith(
        "Success. Updated the following files:\nA src/added.py\nM update_me.txt\n"
        "D delete_me.txt\nM renamed.txt\n"
    )
    assert outputs[1] == "writing outside of the project; rejected by user approval settings"
    [rollout] = env.rollouts()
    change, refused = completed_items(rollout, "FileChange")
    assert change["status"] == "completed"
    # The patch outside the project was refused by the policy (never), and says so.
    assert (refused["status"], refused["stderr"]) == ("declined", outputs[1])
    assert f"ERROR: {outputs[1]}\n" in live.stderr
    assert_replay_equals_live(env, rollout, live)


@needs_sandbox
def test_sigint_kills_the_command_and_records_turn_aborted(tmp_path: Path) -> None:
    marker = tmp_path / "finished.txt"
    script = {"turns": [
        [{"type": "shell", "command": f"echo started; sleep 30; echo finished > {marker}"}],
        [{"type": "message", "text": "never sent"}],
    ]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        process = subprocess.Popen(
            [sys.executable, "-m", "llmx", "exec", "-s", "danger-full-access", "--json",
             "run the slow job"],
            cwd=env.workspace, env=env.env(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        # Wait until the command runs: the model was asked once and the rollout says so.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rollouts = env.rollouts()
            if rollouts and "function_call" in rollouts[0].read_text():
                break
            time.sleep(0.05)
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=60)
        assert process.returncode == 1
        assert len(server.model_requests()) == 1
    [rollout] = env.rollouts()
    [aborted] = events(rollout, "turn_aborted")
    assert aborted["reason"] == "interrupted"
    outputs = [line["payload"] for line in rollout_lines(rollout)
               if line["type"] == "response_item"
               and line["payload"]["type"] == "function_call_output"]
    assert outputs[0]["output"].endswith("aborted by user")
    submissions = [line["payload"]["op"]["type"] for line in rollout_lines(rollout)
                   if line["type"] == "submission"]
    assert "interrupt" in submissions
    time.sleep(1)
    assert not marker.exists()
    # The killed command ended (Codex's exec never records it): failed, exit code -1, with
    # what it printed and the time it ran, before the abort.
    [command] = completed_items(rollout, "CommandExecution")
    assert (command["status"], command["exit_code"]) == ("failed", -1)
    # (A login shell may print its own noise before it, as under Codex.)
    assert command["aggregated_output"].endswith("started\n")
    assert command["duration"]["secs"] + command["duration"]["nanos"] / 1e9 >= 0.5
    printed = [json.loads(line) for line in stdout.decode().splitlines()]
    [ended] = [line["item"] for line in printed if line["type"] == "item.completed"
               and line["item"]["type"] == "command_execution"]
    assert (ended["status"], ended["exit_code"], ended["aggregated_output"]) == (
        "failed", -1, command["aggregated_output"])
    # As Codex's --json output, it ends without a turn.completed; a replay prints the same.
    assert "turn.completed" not in stdout.decode()
    replayed = env.replay(rollout, as_json=True)
    assert replayed.stdout == stdout.decode()


def _interrupt_exec_once_printed(env: ExecEnv, *args: str) -> tuple[int, str, str]:
    """Run exec, send it SIGINT once its command printed ``started``; exit status and
    what it printed (stdout, stderr)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "llmx", "exec", *args],
        cwd=env.workspace, env=env.env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    err = b""
    # Human output goes to stderr: the command's start is there once it runs.
    while b"\nexec\n" not in err and process.poll() is None:
        err += process.stderr.read1(4096)
    time.sleep(1)
    process.send_signal(signal.SIGINT)
    stdout, rest = process.communicate(timeout=60)
    return process.returncode, stdout.decode(), (err + rest).decode()


@needs_sandbox
def test_sigint_ends_the_running_command_in_the_human_output_and_inspect(
    tmp_path: Path,
) -> None:
    script = {"turns": [[{"type": "shell", "command": "echo started; sleep 30"}],
                        [{"type": "message", "text": "never sent"}]]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        status, stdout, stderr = _interrupt_exec_once_printed(
            env, "-s", "workspace-write", "run the slow job")
        assert status == 1
    # An interrupted turn has no answer.
    assert stdout == ""
    [rollout] = env.rollouts()
    [command] = completed_items(rollout, "CommandExecution")
    assert (command["status"], command["exit_code"]) == ("failed", -1)
    # The command's line is closed: how it ended, how long it ran, what it printed.
    assert "\nexec\n/bin/bash -lc 'echo started; sleep 30' in " in stderr
    assert " exited -1 in " in stderr
    assert stderr.index(" exited -1 in ") < stderr.index("started\n", stderr.index(
        " exited -1 in "))
    replayed = env.replay(rollout)
    assert replayed.stderr == stderr.replace(STDIN_NOTICE, "")
    inspect = subprocess.run(
        [sys.executable, "-m", "llmx", "inspect", "--json", str(rollout)],
        capture_output=True, text=True, env=env.env(), timeout=60, check=False)
    assert inspect.returncode == 0, inspect.stderr
    [turn] = json.loads(inspect.stdout)["turns"]
    [audit] = turn["commands"]
    # Recorded, not inferred from the call's output.
    assert (audit["status"], audit["exit_code"], audit["provenance"]) == (
        "failed", -1, "recorded")
    assert audit["duration_seconds"] >= 0.5


def test_resume_appends_to_the_same_rollout_and_sends_the_history(tmp_path: Path) -> None:
    script = {"turns": [[{"type": "message", "text": "first answer"}],
                        [{"type": "message", "text": "second answer"}]]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        first = env.run("first question")
        assert first.returncode == 0, first.stderr
        [rollout] = env.rollouts()
        original = rollout.read_bytes()
        second = env.run("resume", "--last", "second question")
        assert second.returncode == 0, second.stderr
        assert second.stdout == "second answer\n"
        body = server.model_requests()[-1].body
        after_second = rollout.read_bytes()
        ephemeral = env.run("--ephemeral", "resume", "--last", "third question")
        assert ephemeral.returncode == 0, ephemeral.stderr
        assert rollout.read_bytes() == after_second
        session_id = rollout_lines(rollout)[0]["payload"]["id"]
        by_id = env.run("resume", session_id, "fourth question")
        assert by_id.returncode == 0, by_id.stderr
        by_path = env.run("resume", str(rollout), "fifth question")
        assert by_path.returncode == 0, by_path.stderr
        missing = env.run("resume", str(rollout.with_name("gone.jsonl")), "sixth question")
        assert missing.returncode == 1
    assert env.rollouts() == [rollout]
    texts = [part.get("text") for item in body["input"] if item.get("type") == "message"
             for part in item["content"]]
    assert texts.index("first question") < texts.index("first answer") < texts.index(
        "second question"
    )
    lines = rollout_lines(rollout)
    assert [line["type"] for line in lines].count("session_meta") == 1
    assert [line["ordinal"] for line in lines] == list(range(len(lines)))
    # Appended, never rewritten.
    assert rollout.read_bytes().startswith(original)
    assert "third question" not in rollout.read_text()
    assert "fourth question" in rollout.read_text()
    assert "fifth question" in rollout.read_text()
    # A path that names no file is reported as a path, not looked up as an id.
    assert "no rollout file or session named" in missing.stderr
    assert "gone.jsonl" in missing.stderr


def test_rollout_config_caps_large_output_inline_and_keeps_it_once(tmp_path: Path) -> None:
    script = {"turns": [[{"type": "shell", "command": "seq 1 3000"}],
                        [{"type": "message", "text": "Counted."}]]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url,
                       config_extra="[rollout]\ninline_output_cap_bytes = 1024\n")
        live = env.run("-s", "danger-full-access", "count")
        assert live.returncode == 0, live.stderr
        body = server.model_requests()[-1].body
    # The model saw the whole output; the rollout holds it capped, and once beside it.
    [output] = [item for item in body["input"] if item["type"] == "function_call_output"]
    assert "\n3000\n" in output["output"]
    [rollout] = env.rollouts()
    refs = _lines_of(rollout, "output_ref")
    assert {ref["field"] for ref in refs} == {"aggregated_output", "output"}
    [command] = completed_items(rollout, "CommandExecution")
    assert "bytes omitted; full output stored as sha256:" in str(command["aggregated_output"])
    blobs = rollout.with_name(rollout.name.removesuffix(".jsonl") + ".blobs")
    [full] = [ref for ref in refs if ref["field"] == "aggregated_output"]
    stored = (blobs / str(full["sha256"])).read_text()
    assert stored.endswith("2999\n3000\n")
    assert_replay_equals_live(env, rollout, live)


def test_a_bad_rollout_value_in_config_toml_names_file_and_line(tmp_path: Path) -> None:
    env = make_env(tmp_path, "http://127.0.0.1:9/v1",
                   config_extra="[rollout]\nfsync = \"sometimes\"\n")
    live = env.run("say hi")
    assert live.returncode == 1
    [line] = live.stderr.strip().splitlines()
    assert f"{env.home / 'config.toml'}:4: `rollout.fsync` = \"sometimes\"" in line
    assert env.rollouts() == []


def _indexed(home: Path) -> dict[str, tuple[str, str]]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(home / "state.sqlite")) as db:
        rows = db.execute("SELECT id, rollout_path, preview FROM threads").fetchall()
    return {str(row[0]): (str(row[1]), str(row[2])) for row in rows}


def test_each_run_updates_the_session_index_and_resume_uses_it(tmp_path: Path) -> None:
    script = {"turns": [], "fallback": [{"type": "message", "text": "ok"}]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        other = tmp_path / "elsewhere"
        other.mkdir()
        assert env.run("in the project").returncode == 0
        [mine] = env.rollouts()
        # The run itself put its session in the index: no listing has scanned anything yet.
        thread_id = rollout_lines(mine)[0]["payload"]["id"]
        assert _indexed(env.home) == {thread_id: (str(mine), "in the project")}
        assert env.run("-C", str(other), "--skip-git-repo-check", "elsewhere").returncode == 0
        assert len(_indexed(env.home)) == 2
        [theirs] = [path for path in env.rollouts() if path != mine]
        # --last keeps to this directory although the other session is newer.
        assert env.run("resume", "--last", "again here").returncode == 0
        assert "again here" in mine.read_text()
        assert "again here" not in theirs.read_text()
        resumed = env.run("-C", str(other), "--skip-git-repo-check", "resume", "--last", "there")
        assert resumed.returncode == 0
        assert "there" in theirs.read_text()
        # --all takes the newest session of any directory.
        assert env.run("resume", "--last", "--all", "newest anywhere").returncode == 0
        assert "newest anywhere" in theirs.read_text()
        # A unique id prefix resolves through the index too.
        assert env.run("resume", thread_id[:13], "by prefix").returncode == 0
        assert "by prefix" in mine.read_text()
        ephemeral = env.run("--ephemeral", "not indexed")
        assert ephemeral.returncode == 0
    assert len(_indexed(env.home)) == 2
    assert len(env.rollouts()) == 2


def _tree(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under ``root``: size, mtime and bytes (what "nothing written" means)."""
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns,
                                      path.read_bytes())
        for path in sorted(root.rglob("*")) if path.is_file()
    }


def test_ephemeral_resume_writes_nothing_at_all(tmp_path: Path) -> None:
    script = {"turns": [], "fallback": [{"type": "message", "text": "ok"}]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        assert env.run("first question").returncode == 0
        [rollout] = env.rollouts()
        session_id = rollout_lines(rollout)[0]["payload"]["id"]
        for index_kept in (True, False):
            if not index_kept:
                # Without an index on disk, resolving must not create one either.
                for stale in env.home.glob("state.sqlite*"):
                    stale.unlink()
            for how in (["--last"], [session_id[:13]]):
                before = _tree(env.home)
                live = env.run("--ephemeral", "resume", *how, "an ephemeral question")
                assert live.returncode == 0, live.stderr
                assert live.stdout == "ok\n"
                assert _tree(env.home) == before, how
        # And what it sent was the session, resumed.
        texts = [part.get("text") for item in server.model_requests()[-1].body["input"]
                 if item.get("type") == "message" for part in item["content"]]
        assert "first question" in texts


def test_token_totals_run_on_across_resumes(tmp_path: Path) -> None:
    script = {"turns": [], "fallback": {"items": [{"type": "message", "text": "ok"}],
                                        "usage": {"input_tokens": 100, "output_tokens": 10,
                                                  "total_tokens": 110}}}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        runs = [env.run("first"), env.run("resume", "--last", "second"),
                env.run("resume", "--last", "third")]
    assert [run.returncode for run in runs] == [0, 0, 0]
    # Each run prints the thread's total, as Codex does after a resume.
    assert [run.stderr.rsplit("tokens used\n", 1)[1].splitlines()[0] for run in runs] == [
        "110", "220", "330",
    ]
    [rollout] = env.rollouts()
    totals = [event["info"]["total_token_usage"]["total_tokens"]
              for event in events(rollout, "token_count")]
    assert totals == [110, 220, 330]
