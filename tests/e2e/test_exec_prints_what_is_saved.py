"""What ``exec`` prints is already in the rollout: killed the moment it prints, nothing
it printed is missing from the file.

A new session's file appears once the first request reached the model. The loopback
server here takes the connection but reads nothing of it for a while, and the prompt is
larger than the sockets' buffers, so the request cannot be sent whole until the server
reads: a long, certain window in which the file does not exist yet. ``exec`` is killed
with SIGKILL as soon as its first line (``--json``) or its first text (human) arrives,
and the file is then read on the host: ``llmx replay`` of it begins with everything the
run printed (replay prints what the live run printed, so a printed line missing from the
file is an acknowledged event lost).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.exec_harness import ExecEnv, make_env
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import WAIT_SECONDS, read_within

SCRIPT = {"fallback": [{"type": "message", "text": "the answer"}]}
# Far more than a loopback connection buffers (send and receive buffers of a few MB).
PROMPT = "the held prompt\n" + "x" * (12 << 20) + "\n"
NOTICE = b"Reading prompt from stdin...\n"
# How long the server holds the connection unread: ample time for a run that prints
# before its file exists to print; a run that waits for its file prints after it.
HELD_SECONDS = 1.0


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer(Script.from_json(SCRIPT)) as running:
        yield running


@pytest.fixture
def env(tmp_path: Path, server: ModelServer) -> ExecEnv:
    return make_env(tmp_path, server.base_url)


def _feed(process: subprocess.Popen[bytes], data: bytes) -> None:
    assert process.stdin is not None
    try:
        process.stdin.write(data)
        process.stdin.close()
    except BrokenPipeError:
        pass  # killed before it read the whole prompt: the test fails on what it printed


def _killed_at_first_output(env: ExecEnv, server: ModelServer, *, as_json: bool) -> bytes:
    """Run exec with the server holding its request; SIGKILL it as soon as it prints an
    event. What it printed (stdout with ``--json``, else stderr without the notice)."""
    server.hold_reading()
    args = ["exec", "--json", "-"] if as_json else ["exec", "-"]
    process = subprocess.Popen(
        [sys.executable, "-m", "llmx", *args], cwd=env.workspace, env=env.env(),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    feeder = threading.Thread(target=_feed, args=(process, PROMPT.encode()), daemon=True)
    feeder.start()
    watched = process.stdout if as_json else process.stderr
    other = process.stderr if as_json else process.stdout
    printed = b""
    held_since: float | None = None
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        while printed.removeprefix(NOTICE) == b"" or NOTICE.startswith(printed):
            assert time.monotonic() < deadline, f"exec printed nothing: {printed!r}"
            ready, _, _ = select.select([watched, other], [], [], 0.02)
            for stream in ready:
                chunk = os.read(stream.fileno(), 1 << 16)
                if stream is watched:
                    printed += chunk
                elif not chunk:
                    assert process.poll() is None or printed, "exec ended without output"
            if held_since is None and server.connections:
                held_since = time.monotonic()
            elif held_since is not None and time.monotonic() - held_since > HELD_SECONDS:
                server.release_reading()
    finally:
        process.send_signal(signal.SIGKILL)
        server.release_reading()
    process.wait(timeout=WAIT_SECONDS)
    feeder.join(WAIT_SECONDS)
    # The process is gone: what is left in the pipe is what it printed before the kill.
    while chunk := read_within(watched.fileno(), 1 << 16, "the killed exec's output"):
        printed += chunk
    process.stdout.close()
    process.stderr.close()
    return printed.removeprefix(NOTICE)


def test_every_line_exec_json_printed_is_in_the_rollout(
    env: ExecEnv, server: ModelServer
) -> None:
    printed = _killed_at_first_output(env, server, as_json=True).decode()
    lines = printed.splitlines()[: printed.count("\n")]
    assert lines, "exec was killed before it printed a whole line"
    found = env.rollouts()
    assert found, f"exec printed {lines[:3]} but left no rollout"
    [path] = found
    replayed = env.replay(path, as_json=True)
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.splitlines()[: len(lines)] == lines


def test_everything_exec_printed_for_a_person_is_in_the_rollout(
    env: ExecEnv, server: ModelServer
) -> None:
    printed = _killed_at_first_output(env, server, as_json=False).decode("utf-8", "replace")
    found = env.rollouts()
    assert found, f"exec printed {printed[:200]!r} but left no rollout"
    [path] = found
    replayed = env.replay(path)
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stderr.startswith(printed), (printed[:300], replayed.stderr[:300])
