"""The TUI is one writer of a session like exec, with real processes and real files.

``llmx resume ID`` on a rollout another process is writing ends with the one error line
naming that process and what to do, and writes nothing; while a TUI holds a session,
``llmx exec resume ID`` is refused the same way, naming the TUI. Either way the file keeps
one run of ordinals and ``llmx rollout check`` finds nothing wrong.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.exec_harness import ExecEnv, make_env
from support.model_scripts import Script
from support.model_server import ModelServer
from support.tmux import Tmux, needs_tmux
from support.waits import WAIT_SECONDS, wait_until
from tui.live_harness import API_KEY_ENV
from tui.test_tui_terminal import terminal_env

from llmx.events.reader import RolloutReader
from llmx.events.writer_lock import current_writer

pytestmark = needs_tmux

SCRIPT = {
    "turns": [{"match": "hold", "delay": 120, "items": [{"type": "message", "text": "late"}]}],
    "fallback": [{"type": "message", "text": "Answered."}],
}


def refused(command: str) -> re.Pattern[str]:
    return re.compile(
        rf"^llmx {command}: (?P<path>\S+) is being written by process (?P<pid>\d+): "
        r"(?P<command>.+) — let that writer finish \(or stop it\), then retry$"
    )


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer(Script.from_json(SCRIPT)) as running:
        yield running


@pytest.fixture
def env(tmp_path: Path, server: ModelServer) -> ExecEnv:
    made = make_env(tmp_path, server.base_url)
    # The TUI's harness names the key differently; both get one.
    config = made.home / "config.toml"
    config.write_text(config.read_text().replace('env_key = "LLMX_TEST_MODEL_KEY"',
                                                 f'env_key = "{API_KEY_ENV}"'))
    return made


def thread_of(path: Path) -> str:
    return path.name.removesuffix(".jsonl")[-36:]


def writer_pid(path: Path) -> int | None:
    holder = current_writer(path)
    return None if holder is None else holder.pid


def assert_one_writer(env: ExecEnv, path: Path) -> None:
    reader = RolloutReader(path)
    ordinals = [line.ordinal for line in reader]
    assert reader.problems == []
    assert reader.torn_tail is None
    assert ordinals == list(range(len(ordinals)))
    checked = subprocess.run(
        [sys.executable, "-m", "llmx", "rollout", "check", "--json", str(path)],
        capture_output=True, text=True, timeout=WAIT_SECONDS, check=False, env=env.env(),
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    assert report["ordinals"]["repeated_count"] == 0
    assert report["ordinals"].get("missing_count", 0) == 0


def turns_completed(path: Path) -> int:
    return sum(line.payload_type == "task_complete" for line in RolloutReader(path))


def tui_env(env: ExecEnv) -> dict[str, str]:
    return terminal_env(env.home)


def test_the_tui_resuming_a_session_another_process_writes_is_refused(env: ExecEnv) -> None:
    started = env.run("start")
    assert started.returncode == 0, started.stderr
    [path] = env.rollouts()
    thread = thread_of(path)
    first = subprocess.Popen(
        [sys.executable, "-m", "llmx", "exec", "resume", thread, "hold the line"],
        cwd=env.workspace, env=env.env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: writer_pid(path) == first.pid or first.poll() is not None,
                   "exec resume to hold the rollout's writer lock")
        assert writer_pid(path) == first.pid
        before = path.read_bytes()
        # The shell waits a moment before it writes: the terminal is still answering the
        # queries the app sent when it started, and tmux may draw over the line otherwise.
        argv = ["sh", "-c", f"{sys.executable} -m llmx resume {thread}; s=$?; sleep 0.5; "
                "echo exit=$s"]
        with Tmux(argv, env=tui_env(env), cwd=env.workspace, columns=400) as term:
            term.expect("exit=")
            shown = term.scrollback()
        lines = [line.rstrip() for line in shown.splitlines()
                 if line.strip() and not line.startswith("Pane is dead")]
        assert lines[-1] == "exit=1"
        match = refused("resume").match(lines[-2])
        assert match is not None, lines[-2]
        assert match["path"] == str(path)
        assert int(match["pid"]) == first.pid
        assert match["command"].endswith(f"-m llmx exec resume {thread} hold the line")
        assert "Traceback" not in shown
        # The TUI wrote nothing: the file is as the first writer has it.
        assert path.read_bytes().startswith(before)
        assert writer_pid(path) == first.pid
    finally:
        first.send_signal(signal.SIGINT)
        first.wait(timeout=WAIT_SECONDS)
    assert_one_writer(env, path)


def test_exec_resume_of_the_session_a_tui_writes_is_refused(env: ExecEnv) -> None:
    llmx = [sys.executable, "-m", "llmx", "-s", "read-only"]
    with Tmux(llmx, env=tui_env(env), cwd=env.workspace) as term:
        term.expect("mock-model ·")
        term.type("say something")
        term.send("Enter")
        term.expect("Answered.")
        term.expect("─ Worked for")
        tui = term.pid()
        wait_until(lambda: len(env.rollouts()) == 1, "the TUI's rollout")
        [path] = env.rollouts()
        wait_until(lambda: writer_pid(path) == tui, "the TUI to hold its rollout's writer lock")
        before = path.read_bytes()
        second = env.run("resume", thread_of(path), "me too")
        assert second.returncode == 1
        line = second.stderr.splitlines()[-1]
        match = refused("exec").match(line)
        assert match is not None, second.stderr
        assert match["path"] == str(path)
        assert int(match["pid"]) == tui
        assert match["command"].endswith("-m llmx -s read-only")
        assert path.read_bytes() == before
        # The TUI goes on writing its session after the refusal.
        term.type("and again")
        term.send("Enter")
        wait_until(lambda: turns_completed(path) == 2, "the TUI's second turn to complete")
        term.send("C-c")
        term.expect("press ctrl+c again to quit")
        term.send("C-c")
        assert term.exit_status() == 0
    text = path.read_text()
    assert "me too" not in text
    assert "and again" in text
    assert_one_writer(env, path)
    # Once the TUI has gone, the session is free to resume.
    again = env.run("resume", thread_of(path), "now")
    assert again.returncode == 0, again.stderr
    assert_one_writer(env, path)
