"""``llmx exec`` and ``exec resume`` as the one writer of a session, with real processes.

While one ``exec`` holds a session (its model answer held back by the loopback server),
a second ``exec resume`` of the same session is refused with one line naming the first
process; the file keeps one run of ordinals, and the second process wrote nothing.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.exec_harness import ExecEnv, make_env
from support.model_scripts import Script
from support.model_server import ModelServer

from llmx.events.reader import RolloutReader
from llmx.events.writer_lock import LockHolder, current_writer

SCRIPT = {
    "turns": [{"match": "hold", "delay": 120, "items": [{"type": "message", "text": "late"}]}],
    "fallback": [{"type": "message", "text": "done"}],
}
REFUSED = re.compile(
    r"^llmx exec: (?P<path>\S+) is being written by process (?P<pid>\d+): (?P<command>.+) — "
    r"let that writer finish \(or stop it\), then retry$"
)


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer(Script.from_json(SCRIPT)) as running:
        yield running


@pytest.fixture
def env(tmp_path: Path, server: ModelServer) -> ExecEnv:
    return make_env(tmp_path, server.base_url)


def start_exec(env: ExecEnv, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "llmx", "exec", *args], cwd=env.workspace, env=env.env(),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def wait_until_writing(env: ExecEnv, process: subprocess.Popen[bytes]) -> Path:
    """The rollout ``process`` holds the writer lock of, once it does (bounded)."""
    for _ in range(1200):
        for path in env.rollouts():
            holder: LockHolder | None = current_writer(path)
            if holder is not None and holder.pid == process.pid:
                return path
        assert process.poll() is None, "the first exec ended before it held its rollout"
        time.sleep(0.05)
    raise AssertionError("the first exec never held a rollout")


def interrupt(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)


def assert_one_writer(path: Path) -> None:
    reader = RolloutReader(path)
    ordinals = [line.ordinal for line in reader]
    assert reader.problems == []
    assert reader.torn_tail is None
    assert ordinals == list(range(len(ordinals)))
    checked = subprocess.run(
        [sys.executable, "-m", "llmx", "rollout", "check", "--json", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert json.loads(checked.stdout)["ordinals"]["repeated_count"] == 0


def thread_of(path: Path) -> str:
    return path.name.removesuffix(".jsonl")[-36:]


def test_resume_during_a_live_exec_is_refused(env: ExecEnv) -> None:
    first = start_exec(env, "hold the line")
    try:
        path = wait_until_writing(env, first)
        before = path.read_bytes()
        second = env.run("resume", thread_of(path), "me too")
        assert second.returncode == 1
        # The harness pipes an empty stdin: exec says it reads it, then the one error.
        line = second.stderr.splitlines()[-1]
        match = REFUSED.match(line)
        assert match is not None, line
        assert int(match["pid"]) == first.pid
        assert match["command"].endswith("-m llmx exec hold the line")
        assert path.read_bytes().startswith(before)  # the second wrote nothing
    finally:
        interrupt(first)
    assert "me too" not in path.read_text()
    assert_one_writer(path)


def test_two_resumes_at_once_one_is_refused(env: ExecEnv) -> None:
    assert env.run("start").returncode == 0
    [path] = env.rollouts()
    thread = thread_of(path)
    first = start_exec(env, "resume", thread, "hold on")
    try:
        assert wait_until_writing(env, first) == path
        second = env.run("resume", "--last", "meanwhile")
        assert second.returncode == 1
        match = REFUSED.match(second.stderr.splitlines()[-1])
        assert match is not None, second.stderr
        assert int(match["pid"]) == first.pid
        assert match["command"].endswith(f"-m llmx exec resume {thread} hold on")
    finally:
        interrupt(first)
    assert "meanwhile" not in path.read_text()
    assert_one_writer(path)
    # Once the first has gone, the session is free to resume.
    again = env.run("resume", thread, "now")
    assert again.returncode == 0, again.stderr
    assert_one_writer(path)
