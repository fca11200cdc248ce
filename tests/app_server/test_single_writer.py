"""``llmx app-server`` as one writer of a session among others, with real processes.

A thread the app-server has loaded is held by it (the writer lock): ``exec resume``, a
second app-server and ``rollout check --repair`` are refused while it is, and the server
itself refuses to resume a thread another process writes. Nothing of the other writer's
file is lost or repeated (checked by ordinals).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from e2e.exec_harness import API_KEY_ENV
from support.app_server_client import AppServer, make_home
from support.model_server import scripted
from support.waits import WAIT_SECONDS

from llmx.events.reader import RolloutReader
from llmx.events.writer_lock import current_writer

KEY = {API_KEY_ENV: "k"}
SCRIPT = {
    "turns": [{"match": "hold", "delay": 120, "items": [{"type": "message", "text": "late"}]}],
    "fallback": [{"type": "message", "text": "done"}],
}
BUSY = re.compile(r"is being written by process (?P<pid>\d+): (?P<command>.+) — "
                  r"let that writer finish \(or stop it\), then retry")


def _workspace(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True, timeout=WAIT_SECONDS)
    return path


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMX_", "OPENAI_"))}
    env.update(LLMX_HOME=str(home), NO_COLOR="1", **KEY)
    return env


def _llmx(home: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llmx", *args], cwd=cwd, env=_env(home),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=WAIT_SECONDS, check=False)


def _rollout(home: Path, thread_id: str) -> Path:
    [path] = (home / "sessions").rglob(f"rollout-*-{thread_id}.jsonl")
    return path


def _assert_one_run_of_ordinals(path: Path) -> None:
    reader = RolloutReader(path)
    ordinals = [line.ordinal for line in reader]
    assert reader.problems == []
    assert reader.torn_tail is None
    assert ordinals == list(range(len(ordinals)))


def test_a_loaded_thread_is_held_against_exec_resume_repair_and_another_server(
    tmp_path: Path,
) -> None:
    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = _workspace(tmp_path)
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            thread_id = server.start_thread(cwd=str(work))
            answer = server.call("turn/start", {"threadId": thread_id,
                                                "input": [{"type": "text", "text": "first"}]})
            assert "result" in answer, answer
            while server.next_message().get("method") != "turn/completed":
                pass
            path = _rollout(home, thread_id)
            holder = current_writer(path)
            assert holder is not None
            assert holder.pid == server.proc.pid
            before = path.read_bytes()

            resumed = _llmx(home, work, "exec", "resume", thread_id, "me too")
            assert resumed.returncode == 1
            match = BUSY.search(resumed.stderr.splitlines()[-1])
            assert match is not None, resumed.stderr
            assert int(match["pid"]) == server.proc.pid
            assert "app-server" in match["command"]

            # Nothing to cut (the server wrote whole lines): the check names the writer
            # and leaves the file as it is.
            repaired = _llmx(home, work, "rollout", "check", "--repair", "--json", str(path))
            assert "Traceback" not in repaired.stderr
            assert json.loads(repaired.stdout)["writer"]["pid"] == server.proc.pid

            with AppServer(home, work, env=KEY) as other:
                other.initialize()
                refused = other.call("thread/resume", {"threadId": thread_id})
                assert "error" in refused, refused
                match = BUSY.search(refused["error"]["message"])
                assert match is not None, refused
                assert int(match["pid"]) == server.proc.pid
            assert path.read_bytes() == before
            # The holder still writes its thread.
            server.call("turn/start", {"threadId": thread_id,
                                       "input": [{"type": "text", "text": "second"}]})
            while server.next_message().get("method") != "turn/completed":
                pass
        text = path.read_text()
        assert "me too" not in text
        assert "second" in text
        _assert_one_run_of_ordinals(path)
        # Once the server has gone, the session is free to resume.
        again = _llmx(home, work, "exec", "resume", thread_id, "now")
        assert again.returncode == 0, again.stderr
    _assert_one_run_of_ordinals(path)


def test_the_server_refuses_a_thread_exec_is_writing(tmp_path: Path) -> None:
    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url)
        work = _workspace(tmp_path)
        first = _llmx(home, work, "exec", "first")
        assert first.returncode == 0, first.stderr
        [path] = (home / "sessions").rglob("rollout-*.jsonl")
        thread_id = json.loads(path.read_text().splitlines()[0])["payload"]["id"]
        holding = subprocess.Popen(
            [sys.executable, "-m", "llmx", "exec", "resume", thread_id, "hold the line"],
            cwd=work, env=_env(home), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        try:
            for _ in range(1200):
                holder = current_writer(path)
                if holder is not None and holder.pid == holding.pid:
                    break
                assert holding.poll() is None, "exec resume ended before it held the file"
                subprocess.run(["sleep", "0.05"], check=True, timeout=WAIT_SECONDS)
            else:
                raise AssertionError("exec resume never held the rollout")
            before = path.read_bytes()
            with AppServer(home, work, env=KEY) as server:
                server.initialize()
                refused = server.call("thread/resume", {"threadId": thread_id})
                assert "error" in refused, refused
                assert refused["error"]["message"].startswith(
                    f"thread {thread_id} cannot be resumed: ")
                match = BUSY.search(refused["error"]["message"])
                assert match is not None, refused
                assert int(match["pid"]) == holding.pid
                # Nothing was read into a thread, and the server lives on.
                assert server.call("thread/loaded/list", {}).get("result", {}).get(
                    "data", []) == []
            assert path.read_bytes().startswith(before)
        finally:
            holding.send_signal(signal.SIGINT)
            holding.communicate(timeout=WAIT_SECONDS)
    _assert_one_run_of_ordinals(path)
