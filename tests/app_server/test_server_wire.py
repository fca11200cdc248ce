"""``llmx app-server`` on stdio: the envelope, the errors, and the recorded threads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from e2e.exec_harness import needs_sandbox
from support.app_server_client import AppServer, install_rollout, make_home
from support.app_server_schema import client_methods
from support.waits import WAIT_SECONDS

from llmx.cli.app_server.rpc import codex_methods


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return make_home(tmp_path)


def test_method_list_is_codex_schema() -> None:
    assert list(codex_methods()) == client_methods()


def test_initialize_answers_a_version_the_sdk_accepts(home: Path, tmp_path: Path) -> None:
    with AppServer(home, tmp_path) as server:
        answer = server.initialize()
        agent = answer["result"]["userAgent"]
        assert agent.startswith("llmx_tests/0.169.0 ")
        assert answer["result"]["codexHome"] == str(home)
        assert server.call("initialize", {"clientInfo": {"name": "x", "version": "1"}})[
            "error"] == {"code": -32600, "message": "Already initialized"}


def test_requests_before_initialize_are_refused(home: Path, tmp_path: Path) -> None:
    with AppServer(home, tmp_path) as server:
        answer = server.call("thread/list", {})
        assert answer["error"] == {"code": -32600, "message": "Not initialized"}


def test_bad_requests_get_codex_errors_and_the_server_lives(home: Path, tmp_path: Path) -> None:
    with AppServer(home, tmp_path) as server:
        server.initialize()
        server.proc.stdin.write(b"this is not json\n[1,2]\n")  # type: ignore[union-attr]
        unknown = server.call("no/such/method", {})["error"]
        assert unknown["code"] == -32600
        assert unknown["message"].startswith(
            "Invalid request: unknown variant `no/such/method`, expected one of `initialize`, ")
        assert server.call("thread/list")["error"]["message"] == (
            "Invalid request: missing field `params`")
        assert server.call("thread/read", {})["error"]["message"] == (
            "Invalid request: missing field `threadId`")
        bad_enum = server.call("thread/list", {"sortDirection": "sideways"})["error"]
        assert bad_enum["message"] == (
            "Invalid request: unknown variant `sideways`, expected one of `asc`, `desc`")
        assert server.call("thread/read", {"threadId": "nope"})["error"][
            "message"].startswith("invalid thread id: ")
        missing = "0199a213-81c0-7800-8aa1-bbab2a035a53"
        assert server.call("thread/read", {"threadId": missing})["error"]["message"] == (
            f"thread not loaded: {missing}")
        # Still serving after all of it.
        assert "result" in server.call("model/list", {"includeHidden": False})
        assert server.close() == 0
        assert "Failed to deserialize JSONRPCMessage" in server.stderr()


def test_global_config_before_the_command_reaches_the_server(home: Path,
                                                             tmp_path: Path) -> None:
    with AppServer(home, tmp_path, config=("model=\"other-model\"",)) as server:
        server.initialize()
        models = server.call("model/list", {})["result"]["data"]
        assert [m["id"] for m in models] == ["other-model"]
        config = server.call("config/read", {})["result"]["config"]
        assert config["model"] == "other-model"


def test_threads_recorded_by_codex_are_listed_and_read(home: Path, tmp_path: Path) -> None:
    accepted = install_rollout(home, "approval_untrusted_accept")
    declined = install_rollout(home, "patch_approval_readonly_decline")
    install_rollout(home, "apply_patch_add_update_delete_json")  # an exec thread
    with AppServer(home, tmp_path) as server:
        server.initialize()
        listed = server.call("thread/list", {})["result"]
        # Without sourceKinds only interactive threads are listed (exec is not).
        assert sorted(t["id"] for t in listed["data"]) == sorted([accepted, declined])
        assert all(t["status"] == {"type": "notLoaded"} for t in listed["data"])
        first = server.call("thread/list", {"limit": 1})["result"]
        assert len(first["data"]) == 1
        assert first["nextCursor"] is not None
        second = server.call("thread/list", {"limit": 1, "cursor": first["nextCursor"]})
        assert {first["data"][0]["id"], second["result"]["data"][0]["id"]} == {accepted,
                                                                              declined}
        assert second["result"]["nextCursor"] is None
        everything = server.call("thread/list", {"sourceKinds": ["exec", "vscode"]})
        assert len(everything["result"]["data"]) == 3
        read = server.call("thread/read", {"threadId": accepted, "includeTurns": True})
        thread = read["result"]["thread"]
        assert thread["preview"] == "create the marker file (accept)"
        [turn] = thread["turns"]
        assert turn["status"] == "completed"
        assert [item["type"] for item in turn["items"]] == [
            "userMessage", "commandExecution", "agentMessage"]


def test_name_archive_unarchive(home: Path, tmp_path: Path) -> None:
    thread_id = install_rollout(home, "approval_untrusted_accept")
    with AppServer(home, tmp_path) as server:
        server.initialize()
        assert server.call("thread/name/set", {"threadId": thread_id, "name": " "})[
            "error"]["message"] == "thread name must not be empty"
        assert server.call("thread/name/set", {"threadId": thread_id, "name": "marker"})[
            "result"] == {}
        assert {"threadId": thread_id, "threadName": "marker"} in [
            m["params"] for m in server.received if m.get("method") == "thread/name/updated"]
        assert server.call("thread/archive", {"threadId": thread_id})["result"] == {}
        assert server.call("thread/list", {})["result"]["data"] == []
        archived = server.call("thread/list", {"archived": True})["result"]["data"]
        assert [(t["id"], t["name"]) for t in archived] == [(thread_id, "marker")]
        back = server.call("thread/unarchive", {"threadId": thread_id})["result"]["thread"]
        assert back["id"] == thread_id
        assert [t["id"] for t in server.call("thread/list", {})["result"]["data"]] == [
            thread_id]
    assert not list((home / "archived_sessions").glob("*.jsonl"))


def test_end_of_input_ends_the_server(home: Path, tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "llmx", "app-server"], input=b"", capture_output=True,
        env={"LLMX_HOME": str(home), "PATH": "/usr/bin:/bin"}, timeout=WAIT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0
    assert completed.stdout == b""


@needs_sandbox
def test_command_exec_runs_one_command_under_the_sandbox(home: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "work"
    workspace.mkdir()
    with AppServer(home, workspace) as server:
        server.initialize()
        ran = server.call("command/exec", {"command": ["sh", "-c", "echo out; echo err >&2"],
                                           "cwd": str(workspace)})["result"]
        assert ran == {"exitCode": 0, "stdout": "out\n", "stderr": "err\n"}
        denied = server.call("command/exec", {
            "command": ["sh", "-c", "touch made-read-only"], "cwd": str(workspace),
            "sandboxPolicy": {"type": "readOnly"}})["result"]
        assert denied["exitCode"] != 0
        assert not (workspace / "made-read-only").exists()
        allowed = server.call("command/exec", {
            "command": ["sh", "-c", "touch made-writable"], "cwd": str(workspace),
            "sandboxPolicy": {"type": "workspaceWrite"}})["result"]
        assert allowed["exitCode"] == 0
        assert (workspace / "made-writable").exists()
        slow = server.call("command/exec", {"command": ["sleep", "30"], "cwd": str(workspace),
                                            "timeoutMs": 200})["result"]
        assert slow["exitCode"] == 124
        assert server.call("command/exec", {"command": []})["error"]["message"] == (
            "command must not be empty")
