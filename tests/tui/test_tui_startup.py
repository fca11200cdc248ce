"""The first screen of ``llmx`` is drawn before the session is opened: what it imports by
then, and that the session then opens in the same app.

Each case runs in a process of its own (the modules a process has loaded are the
measure), with Textual's pilot and its message hook: Textual sends ``Ready`` once the
first frame is displayed, and the hook sees it before the app acts on it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support import PROJECT_ROOT
from support.model_server import scripted
from support.waits import WAIT_SECONDS
from tui.live_harness import API_KEY_ENV, make_home, make_workspace

from llmx.cli.main import COMMAND_MODULES

# Modules the first screen has no use for: the runtime (its configuration, sandbox,
# model client and HTTP stack), the session index, the screens opened later, and the
# parsers of the other commands.
NOT_BEFORE_THE_FIRST_FRAME = (
    "llmx.runtime", "httpx", "pydantic", "sqlite3", "llmx.projections.transcript_pages",
    "llmx.cli.tui.approval_screen", "llmx.cli.tui.overlay_screen", *COMMAND_MODULES,
)

SCRIPT = """
import argparse, asyncio, gc, json, sys, time
from llmx.cli.interactive import session_args
from llmx.cli.tui.launch import live_app
from llmx.cli.tui.session_start import Start

start = Start.resume_last() if sys.argv[1] == "resume" else Start.new()
seen = {"collector_before": gc.isenabled()}
app = live_app(session_args(argparse.Namespace()), start)
# Imported by the app already: Textual is loaded by live_app.
from textual import events

def hook(message):
    if isinstance(message, events.Ready) and "modules" not in seen:
        seen["modules"] = sorted(sys.modules)
        seen["composer_focused"] = app.composer.has_focus
        seen["thread_open"] = app.thread is not None
        seen["collector_at_first_frame"] = gc.isenabled()

async def main():
    async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
        deadline = time.monotonic() + float(sys.argv[2])
        while app.thread is None and time.monotonic() < deadline:
            await pilot.pause(0.02)
        await pilot.pause()
        seen["status"] = str(app.query_one("#status").render())
        seen["activity"] = str(app.query_one("#activity").render())
        seen["transcript"] = app.view.plain_lines()
        seen["thread_open_at_end"] = app.thread is not None
        seen["collector_once_open"] = gc.isenabled()
        seen["frozen_once_open"] = gc.get_freeze_count()
        await app.quit_session()

asyncio.run(main())
seen["collector_at_end"] = gc.isenabled()
print(json.dumps(seen))
"""


def first_screen(home: Path, workspace: Path, start: str) -> dict[str, object]:
    env = {**os.environ, "LLMX_HOME": str(home), API_KEY_ENV: "k",
           "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, start, str(WAIT_SECONDS)], cwd=workspace, env=env,
        capture_output=True, text=True, timeout=WAIT_SECONDS * 2, check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_the_first_frame_comes_before_the_runtime_and_the_session_opens_after(
    tmp_path: Path,
) -> None:
    with scripted({"turns": [], "fallback": [{"type": "message", "text": "hi"}]}) as model:
        home = make_home(tmp_path, model.base_url)
        seen = first_screen(home, make_workspace(tmp_path), "new")
    loaded = set(seen["modules"])  # type: ignore[call-overload]
    assert [name for name in NOT_BEFORE_THE_FIRST_FRAME if name in loaded] == []
    assert seen["composer_focused"] is True
    assert seen["thread_open"] is False
    # The collector is off while the first screen loads, on again after its first frame
    # with what had loaded frozen (left out of its passes), and as it was at the end.
    assert seen["collector_before"] is True
    assert seen["collector_at_first_frame"] is False
    assert seen["collector_once_open"] is True
    assert seen["frozen_once_open"] > 10_000  # type: ignore[operator]
    assert seen["collector_at_end"] is True
    # Then the same app opens the session: the status line names its model and the
    # "Opening the session" line is gone.
    assert seen["thread_open_at_end"] is True
    assert str(seen["status"]).startswith("mock-model · ")
    assert "the session…" not in str(seen["activity"])


def test_a_resumed_session_shows_its_transcript_once_open(tmp_path: Path) -> None:
    # A recorded session: one turn through exec, in the same home and folder.
    with scripted({"turns": [], "fallback": [
            {"type": "message", "text": "Recorded answer."}]}) as model:
        home = make_home(tmp_path, model.base_url)
        workspace = make_workspace(tmp_path)
        subprocess.run(
            [sys.executable, "-m", "llmx", "exec", "recorded question"], cwd=workspace,
            env={**os.environ, "LLMX_HOME": str(home), API_KEY_ENV: "k",
                 "PYTHONPATH": str(PROJECT_ROOT)},
            capture_output=True, timeout=WAIT_SECONDS, check=True,
        )
        seen = first_screen(home, workspace, "resume")
    loaded = set(seen["modules"])  # type: ignore[call-overload]
    assert [name for name in NOT_BEFORE_THE_FIRST_FRAME if name in loaded] == []
    assert seen["thread_open"] is False
    assert seen["thread_open_at_end"] is True
    transcript = "\n".join(seen["transcript"])  # type: ignore[call-overload]
    assert "recorded question" in transcript
    assert "Recorded answer." in transcript
    assert "the session…" not in str(seen["activity"])


CLOCK = """
import os
from llmx.cli.tui.launch import load_textual
load_textual()
import textual.screen
print(round(1 / textual.screen.UPDATE_PERIOD), os.environ.get("TEXTUAL_FPS"))
"""


def test_the_screen_clock_is_set_for_textual_and_left_out_of_the_commands_environment(
) -> None:
    def clock(**env: str) -> str:
        environment = {key: value for key, value in os.environ.items()
                       if key != "TEXTUAL_FPS"}
        done = subprocess.run([sys.executable, "-c", CLOCK], env={**environment, **env},
                              capture_output=True, text=True, timeout=WAIT_SECONDS,
                              check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    # llmx's clock, and nothing left for the session's commands to inherit.
    assert clock() == "1000 None"
    # A user's own setting wins, and stays theirs.
    assert clock(TEXTUAL_FPS="30") == "30 30"
