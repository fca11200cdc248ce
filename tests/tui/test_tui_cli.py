"""``llmx`` and ``llmx resume`` on the command line: flags shared with exec, and the one
error line for what cannot start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import PROJECT_ROOT
from support.tmux import Tmux, needs_tmux
from support.waits import WAIT_SECONDS
from tui.live_harness import make_home, make_workspace

from llmx.cli.main import build_parser


def run(args: list[str], home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llmx", *args], cwd=cwd, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=WAIT_SECONDS,
                          env={"PATH": "/usr/bin:/bin", "LLMX_HOME": str(home)}, check=False)


def test_the_session_and_resume_take_exec_s_thread_flags() -> None:
    exec_flags = {"-C", "-s", "-a", "--full-auto", "--yolo", "--add-dir", "-m", "-c", "-p", "-i"}
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for each in (parser, commands["resume"], commands["exec"]):
        flags = {flag for action in each._actions for flag in action.option_strings}
        assert exec_flags <= flags, each.prog
    args = parser.parse_args(["-m", "gpt-x", "-s", "read-only", "-a", "never", "-c", "k=1"])
    assert (args.command, args.model, args.sandbox, args.ask_for_approval) == (
        None, "gpt-x", "read-only", "never")
    assert args.config == ["k=1"]
    resumed = parser.parse_args(["resume", "--last", "--yolo", "-c", "k=2"])
    assert (resumed.last, resumed.bypass, resumed.config) == (True, True, ["k=2"])


def test_without_a_terminal_the_session_says_so_in_one_line(tmp_path: Path) -> None:
    result = run([], tmp_path, tmp_path)
    assert result.returncode == 1
    assert result.stderr == ("llmx: the interactive session needs a terminal on stdin and "
                             "stdout — run it in a terminal, or use 'llmx exec' (llmx was "
                             "given a pipe)\n")
    bad = run(["-s", "sideways"], tmp_path, tmp_path)
    assert bad.returncode == 2
    assert "invalid choice: 'sideways'" in bad.stderr



def test_replay_tui_without_a_terminal_says_to_print_it_instead(tmp_path: Path) -> None:
    sample = PROJECT_ROOT / "examples" / "sample.rollout.jsonl"
    result = run(["replay", "--tui", str(sample)], tmp_path, tmp_path)
    assert result.returncode == 1
    assert result.stderr == ("llmx replay: the interactive session needs a terminal on stdin "
                             "and stdout — run it in a terminal, or drop --tui to print it "
                             "(replay --tui was given a pipe)\n")


@needs_tmux
def test_resume_last_without_a_session_is_one_error_line(tmp_path: Path) -> None:
    home = make_home(tmp_path, "http://127.0.0.1:9/v1")
    work = make_workspace(tmp_path)
    # The shell waits a moment before it writes: the terminal is still answering the
    # queries the app sent when it started, and tmux may draw over the line otherwise.
    argv = ["sh", "-c", f"{sys.executable} -m llmx resume --last; s=$?; sleep 0.5; "
            "echo exit=$s"]
    with Tmux(argv, env={"PATH": "/usr/bin:/bin", "TERM": "screen-256color",
                         "LLMX_HOME": str(home)}, cwd=work, columns=250) as term:
        term.expect("exit=")
        shown = term.scrollback()
    lines = [line.rstrip() for line in shown.splitlines()
             if line.strip() and not line.startswith("Pane is dead")]
    assert lines[-1] == "exit=1"
    assert lines[-2].startswith("llmx resume: no recorded session to resume for ")
    assert "Traceback" not in shown
