"""What the TUI shows of a turn is already in the rollout: killed the moment the prompt
appears in the transcript, the file holds the prompt.

A new session's file appears once the first request reached the model. The loopback
server here takes the connection and reads nothing of it for a while, and the first
prompt carries an image larger than the sockets' buffers, so the request cannot be sent
whole until the server reads: a long, certain window in which the file does not exist.
The real ``llmx`` runs in tmux and is killed with SIGKILL as soon as its transcript shows
the prompt; the file is then read on the host.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.model_scripts import Script
from support.model_server import ModelServer
from support.tmux import Tmux, needs_tmux
from support.waits import WAIT_SECONDS
from tui.live_harness import make_home, make_workspace, submissions
from tui.test_tui_terminal import terminal_env

pytestmark = needs_tmux

SCRIPT = {"fallback": [{"type": "message", "text": "A fine picture."}]}
# How long the server holds the connection unread: ample time for a session that shows
# the prompt before its file exists to show it.
HELD_SECONDS = 1.0


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer(Script.from_json(SCRIPT)) as running:
        yield running


def test_the_prompt_the_transcript_shows_is_in_the_rollout(
    tmp_path: Path, server: ModelServer
) -> None:
    home = make_home(tmp_path, server.base_url)
    work = make_workspace(tmp_path)
    # Far more than a loopback connection buffers, once base64 in the request body.
    (work / "big.png").write_bytes(os.urandom(12 << 20))
    server.hold_reading()
    llmx = [sys.executable, "-m", "llmx", "-s", "read-only", "-i", "big.png"]
    with Tmux(llmx, env=terminal_env(home), cwd=work, columns=120) as term:
        term.expect("mock-model ·")
        pid = term.pid()
        term.type("the held prompt")
        term.send("Enter")
        held_since: float | None = None
        deadline = time.monotonic() + WAIT_SECONDS
        try:
            while not any(row.startswith("›") and "the held prompt" in row
                          for row in term.screen().splitlines()):
                assert time.monotonic() < deadline, f"never shown:\n{term.screen()}"
                if held_since is None and server.connections:
                    held_since = time.monotonic()
                elif held_since is not None and time.monotonic() - held_since > HELD_SECONDS:
                    server.release_reading()
        finally:
            os.kill(pid, signal.SIGKILL)
            server.release_reading()
        term.exit_status()  # the killed session has ended
    found = list(home.glob("sessions/*/*/*/rollout-*.jsonl"))
    assert found, "the transcript showed the prompt, but the session left no rollout"
    [path] = found
    prompts = [item["text"] for sub in submissions(path) if sub["op"]["type"] == "user_turn"
               for item in sub["op"]["items"] if item["type"] == "text"]
    assert prompts == ["the held prompt"]
