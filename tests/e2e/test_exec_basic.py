"""``llmx exec`` end to end: real processes, the loopback model server, temporary homes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.exec_harness import (
    ExecEnv,
    assert_replay_equals_live,
    events,
    make_env,
    rollout_lines,
)
from support.model_scripts import Script
from support.model_server import ModelServer

SAY_HI = {"turns": [[{"type": "message", "text": "Hi! (from the mock)"}]],
          "fallback": [{"type": "message", "text": "fallback reply"}]}


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer(Script.from_json(SAY_HI)) as running:
        yield running


@pytest.fixture
def env(tmp_path: Path, server: ModelServer) -> ExecEnv:
    return make_env(tmp_path, server.base_url)


def test_plain_run_prints_the_answer_and_records_a_rollout(env: ExecEnv) -> None:
    live = env.run("say hi")
    assert live.returncode == 0, live.stderr
    assert live.stdout == "Hi! (from the mock)\n"
    assert "user\nsay hi\n" in live.stderr
    [rollout] = env.rollouts()
    lines = rollout_lines(rollout)
    assert lines[0]["type"] == "session_meta"
    assert [line["ordinal"] for line in lines] == list(range(len(lines)))
    assert events(rollout, "task_complete")[0]["last_agent_message"] == "Hi! (from the mock)"
    # The submission is on disk before anything it caused; the shutdown, which waits for
    # the turn, after everything the turn wrote.
    kinds = [line["type"] for line in lines]
    assert kinds.index("submission") < kinds.index("turn_context")
    ops = [line["payload"]["op"]["type"] for line in lines if line["type"] == "submission"]
    assert ops == ["user_turn", "shutdown"]
    assert lines[-1]["type"] == "submission"
    assert lines[-1]["payload"]["op"]["type"] == "shutdown"
    assert rollout.stat().st_mode & 0o777 == 0o600
    assert_replay_equals_live(env, rollout, live)


def test_json_mode_prints_thread_events(env: ExecEnv) -> None:
    live = env.run("--json", "say hi")
    assert live.returncode == 0, live.stderr
    lines = [json.loads(line) for line in live.stdout.splitlines()]
    assert [line["type"] for line in lines] == [
        "thread.started", "turn.started", "item.completed", "turn.completed",
    ]
    assert lines[2]["item"] == {"id": "item_0", "type": "agent_message",
                                "text": "Hi! (from the mock)"}
    [rollout] = env.rollouts()
    assert lines[0]["thread_id"] in rollout.name
    assert_replay_equals_live(env, rollout, live, as_json=True)


def test_ephemeral_writes_no_file_anywhere(env: ExecEnv) -> None:
    before = sorted(p for p in env.home.rglob("*"))
    live = env.run("--ephemeral", "say hi")
    assert live.returncode == 0, live.stderr
    assert live.stdout == "Hi! (from the mock)\n"
    assert sorted(p for p in env.home.rglob("*")) == before
    assert sorted(p.name for p in env.workspace.iterdir()) == [".git"]


def test_stdin_is_appended_as_a_stdin_block(env: ExecEnv, server: ModelServer) -> None:
    live = env.run("summarise", stdin=b"line one\nline two")
    assert live.returncode == 0, live.stderr
    body = server.model_requests()[-1].body
    texts = [part["text"] for item in body["input"] if item.get("role") == "user"
             for part in item["content"]]
    assert texts[-1] == "summarise\n\n<stdin>\nline one\nline two\n</stdin>"


def test_prompt_from_stdin_with_dash(env: ExecEnv) -> None:
    live = env.run("-", stdin=b"\xef\xbb\xbfsay hi\n")
    assert live.returncode == 0, live.stderr
    [rollout] = env.rollouts()
    [user] = [line["payload"] for line in rollout_lines(rollout)
              if line["type"] == "response_item" and line["payload"].get("role") == "user"
              and "environment_context" not in json.dumps(line["payload"])]
    assert user["content"][0]["text"] == "say hi\n"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["-"], b"   \n", "no prompt provided via stdin"),
        (["-"], b"\xff\xfe\x00\x00x\x00\x00\x00", "UTF-32"),
        (["-"], b"caf\xe9", "not valid UTF-8"),
        (["resume", "0000-not-a-session", "hi"], b"",
         "no session with id, id prefix or name '0000-not-a-session'"),
        # A path that names no file is reported as one, not looked up as a session name.
        (["resume", "gone/rollout-old.jsonl", "hi"], b"",
         "no rollout file or session named 'gone/rollout-old.jsonl' — check the path"),
        (["--output-schema", "/nonexistent/schema.json", "hi"], b"", "--output-schema"),
        (["-c", "model_providers.mock.request_max_retries=-1", "hi"], b"",
         "-c model_providers.mock.request_max_retries=-1: "
         "`model_providers.mock.request_max_retries` = -1"),
        (["-c", "rollout.fsync=sometimes", "hi"], b"",
         "`rollout.fsync` = \"sometimes\": expected 'turn', 'always' or 'never' "
         "— correct the -c value"),
        (["-p", "nosuch", "hi"], b"", "config profile `nosuch` not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    env: ExecEnv, args: list[str], stdin: bytes, message: str
) -> None:
    live = env.run(*args, stdin=stdin)
    assert live.returncode == 1
    last = live.stderr.strip().splitlines()[-1]
    assert message in last
    assert "Traceback" not in live.stderr
    assert env.rollouts() == []


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--color", "sometimes"), ("-s", "read-write"), ("-a", "sometimes")],
)
def test_bad_flag_value_exits_2_before_anything_runs(
    env: ExecEnv, flag: str, value: str
) -> None:
    live = env.run(flag, value, "hi")
    assert live.returncode == 2
    assert flag in live.stderr.strip().splitlines()[-1]
    assert env.rollouts() == []


def test_outside_a_git_repository_needs_the_skip_flag(env: ExecEnv, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    refused = env.run("-C", str(plain), "say hi")
    assert refused.returncode == 1
    assert "--skip-git-repo-check" in refused.stderr
    allowed = env.run("-C", str(plain), "--skip-git-repo-check", "say hi")
    assert allowed.returncode == 0, allowed.stderr


def test_missing_api_key_fails_clearly_and_records_nothing(env: ExecEnv) -> None:
    environment = env.env()
    del environment["LLMX_TEST_MODEL_KEY"]
    live = env.run("say hi", env=environment)
    assert live.returncode == 1
    assert "user\nsay hi\n" in live.stderr
    [error] = [line for line in live.stderr.splitlines() if line.startswith("ERROR:")]
    assert "LLMX_TEST_MODEL_KEY" in error
    # Nothing reached the model: no session, no prompt in the history, no index row.
    assert env.rollouts() == []
    assert not (env.home / "history.jsonl").exists()
    assert not (env.home / "sessions").exists()


def test_unreachable_server_fails_with_one_clear_error_and_records_nothing(
    tmp_path: Path,
) -> None:
    env = make_env(tmp_path, "http://127.0.0.1:9/v1")
    live = env.run("--json", "say hi")
    assert live.returncode == 1
    lines = [json.loads(line) for line in live.stdout.splitlines()]
    assert lines[0]["type"] == "thread.started"
    assert lines[-1]["type"] == "turn.failed"
    assert "error sending request" in lines[-1]["error"]["message"]
    assert env.rollouts() == []
    assert not (env.home / "history.jsonl").exists()


def test_a_500_is_retried(tmp_path: Path) -> None:
    script = {"turns": [{"status": 500, "error": "mock overloaded", "items": []},
                        [{"type": "message", "text": "Recovered after a 500."}]]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        _check_retried(env, server)


def _check_retried(env: ExecEnv, server: ModelServer) -> None:
    live = env.run("say hi")
    assert live.returncode == 0, live.stderr
    assert live.stdout == "Recovered after a 500.\n"
    assert len(server.model_requests()) == 2
    [rollout] = env.rollouts()
    assert_replay_equals_live(env, rollout, live)


def test_a_400_fails_the_turn(tmp_path: Path) -> None:
    script = {"turns": [], "fallback": {"status": 400, "error": "mock bad request", "items": []}}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        _check_failed(env, server)


def _check_failed(env: ExecEnv, server: ModelServer) -> None:
    live = env.run("--json", "say hi")
    assert live.returncode == 1
    lines = [json.loads(line) for line in live.stdout.splitlines()]
    assert lines[-1]["type"] == "turn.failed"
    assert "mock bad request" in lines[-1]["error"]["message"]
    assert len(server.model_requests()) == 1
    [rollout] = env.rollouts()
    assert_replay_equals_live(env, rollout, live, as_json=True)


def test_output_last_message_file(env: ExecEnv, tmp_path: Path) -> None:
    target = tmp_path / "last.txt"
    live = env.run("-o", str(target), "say hi")
    assert live.returncode == 0, live.stderr
    assert target.read_text() == "Hi! (from the mock)"


def test_an_mcp_server_that_cannot_start_is_named_and_the_run_goes_on(
    tmp_path: Path, server: ModelServer
) -> None:
    env = make_env(tmp_path, server.base_url,
                   config_extra='[mcp_servers.calc]\ncommand = "no-such-calc-server"\n')
    # The second run reads the validated config from its cache: it must still say so.
    for _ in range(2):
        live = env.run("say hi")
        assert live.returncode == 0, live.stderr
        # Still starting or already failed when the request went out: either way named.
        [warning] = [line for line in live.stderr.splitlines() if "MCP" in line]
        assert warning.startswith("warning: MCP server `calc` ")
