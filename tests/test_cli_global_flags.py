"""Options given before the command (``llmx -c k=v -s MODE COMMAND ...``) act exactly as
they do after it, for every command that takes them, and a command that does not take one
refuses it in one line (Codex takes its global options before any sub-command; its
app-server SDK launches ``codex --config k=v app-server``).

Real subprocesses on temporary homes: ``sandbox explain`` prints the same plan, a real
``sandbox linux`` command writes where the mode lets it, ``exec`` sends the model and
records the sandbox the options chose; and the whole parser tree parses each option to
the same arguments before and after each command.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.exec_harness import make_env, needs_sandbox, rollout_lines
from support.model_scripts import Script
from support.model_server import ModelServer
from support.tmux import Tmux, needs_tmux
from support.waits import WAIT_SECONDS
from tui.live_harness import make_home, make_workspace

from llmx.cli.main import build_parser, parser_for

ONE_LINE = re.compile(r"^llmx (?P<command>[a-z-]+(?: [a-z]+)?): (?P<what>.+) — (?P<todo>.+)$")


def llmx(home: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMX_", "OPENAI_"))}
    env["LLMX_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "llmx", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=WAIT_SECONDS, check=False)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    # /tmp is left out of workspace-write: whether its missing .git is there at a given
    # moment depends on other processes' sandboxes (a mask's mount point lingers), and the
    # explanations compared below must not.
    (home / "config.toml").write_text('[profiles.wide]\nsandbox_mode = "workspace-write"\n'
                                      "[sandbox_workspace_write]\nexclude_slash_tmp = true\n")
    return home


@pytest.fixture
def work(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    (work / ".git").mkdir(parents=True)
    (work / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return work


EXPLAIN_OPTIONS = [
    ["-s", "workspace-write"],
    ["--sandbox", "danger-full-access"],
    ["-c", 'sandbox_mode="workspace-write"', "-c",
     "sandbox_workspace_write.network_access=true"],
    ["--full-auto"],
    ["--yolo"],
    ["-p", "wide"],
    ["-s", "workspace-write", "--add-dir", "{extra}"],
    ["-C", "{extra}", "-s", "workspace-write"],
]


@pytest.mark.parametrize("options", EXPLAIN_OPTIONS, ids=" ".join)
def test_sandbox_explain_takes_options_before_the_command(
    home: Path, work: Path, tmp_path: Path, options: list[str]
) -> None:
    (tmp_path / "extra").mkdir()
    given = [word.replace("{extra}", str(tmp_path / "extra")) for word in options]
    plain = llmx(home, work, "sandbox", "explain")
    after = llmx(home, work, "sandbox", "explain", *given)
    before = llmx(home, work, *given, "sandbox", "explain")
    assert after.returncode == 0, after.stderr
    assert before.returncode == 0, before.stderr
    assert before.stdout == after.stdout
    assert before.stdout != plain.stdout, "the options change nothing: the test proves nothing"


def test_the_global_form_of_the_issue(home: Path, work: Path) -> None:
    """The tryout's line: the mode and the network access both reach the plan."""
    shown = llmx(home, work, "-c", "sandbox_workspace_write.network_access=true",
                 "-s", "workspace-write", "sandbox", "explain")
    assert shown.returncode == 0, shown.stderr
    assert '"type":"workspace-write"' in shown.stdout
    assert '"network_access":true' in shown.stdout


@needs_sandbox
def test_a_confined_command_writes_where_the_mode_before_the_command_lets_it(
    home: Path, work: Path
) -> None:
    write = ["--", "sh", "-c", "echo written > made"]
    refused = llmx(home, work, "sandbox", "linux", *write)
    assert refused.returncode != 0
    assert not (work / "made").exists()
    for options in (["-s", "workspace-write"], ["-c", 'sandbox_mode="workspace-write"'],
                    ["--full-auto"]):
        ran = llmx(home, work, *options, "sandbox", "linux", *write)
        assert ran.returncode == 0, (options, ran.stderr)
        assert (work / "made").read_text() == "written\n"
        (work / "made").unlink()
    # Read-only before the command keeps the write out even where config.toml opens it.
    (home / "config.toml").write_text('sandbox_mode = "workspace-write"\n')
    kept_out = llmx(home, work, "-s", "read-only", "sandbox", "linux", *write)
    assert kept_out.returncode != 0
    assert not (work / "made").exists()


SAY_HI = {"turns": [], "fallback": [{"type": "message", "text": "hi"}]}


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer(Script.from_json(SAY_HI)) as running:
        yield running


def test_exec_takes_options_before_the_command(tmp_path: Path, server: ModelServer) -> None:
    env = make_env(tmp_path, server.base_url)
    other = tmp_path / "other"
    other.mkdir()
    before = ["-m", "model-before", "-s", "workspace-write", "-C", str(other),
              "-c", 'model_reasoning_effort="high"', "-a", "never"]
    result = subprocess.run(
        [sys.executable, "-m", "llmx", *before, "exec", "--skip-git-repo-check", "say hi"],
        cwd=env.workspace, env=env.env(), capture_output=True, text=True,
        timeout=WAIT_SECONDS, check=False)
    assert result.returncode == 0, result.stderr
    [request] = server.model_requests()
    assert request.body["model"] == "model-before"
    assert request.body["reasoning"]["effort"] == "high"
    [rollout] = env.rollouts()
    [context] = [line["payload"] for line in rollout_lines(rollout)
                 if line["type"] == "turn_context"]
    assert context["model"] == "model-before"
    assert context["cwd"] == str(other)
    assert context["sandbox_policy"]["type"] == "workspace-write"
    assert context["approval_policy"] == "never"


@needs_tmux
def test_resume_takes_options_before_the_command(tmp_path: Path) -> None:
    """In a terminal: ``-C`` before ``resume`` is the folder it resumes in."""
    home = make_home(tmp_path, "http://127.0.0.1:9/v1")
    work = make_workspace(tmp_path)
    missing = tmp_path / "missing"
    # The shell waits before it writes: the terminal is still answering the app's queries.
    argv = ["sh", "-c", f"{sys.executable} -m llmx -C {missing} resume --last; s=$?; "
            "sleep 0.5; echo exit=$s"]
    with Tmux(argv, env={"PATH": "/usr/bin:/bin", "TERM": "screen-256color",
                         "LLMX_HOME": str(home)}, cwd=work, columns=250) as term:
        term.expect("exit=")
        shown = term.scrollback()
    lines = [line.rstrip() for line in shown.splitlines()
             if line.strip() and not line.startswith("Pane is dead")]
    assert lines[-2:] == [f"llmx resume: -C {missing}: no such directory — pass an existing "
                          "directory", "exit=1"]


@pytest.mark.parametrize(
    ("argv", "command", "option"),
    [
        (["-s", "workspace-write", "sessions", "list"], "sessions list", "-s/--sandbox"),
        (["-c", "k=1", "history"], "history", "-c/--config"),
        (["--no-alt-screen", "exec", "hi"], "exec", "--no-alt-screen"),
        (["-m", "other", "app-server"], "app-server", "-m/--model"),
        (["--yolo", "replay", "x"], "replay", "--dangerously-bypass-approvals-and-sandbox"),
        (["-i", "a.png", "sandbox", "explain"], "sandbox explain", "-i/--image"),
        (["-a", "never", "sandbox", "linux", "--", "true"], "sandbox linux", "-a/"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_an_option_the_command_does_not_take_is_refused_in_one_line(
    home: Path, work: Path, argv: list[str], command: str, option: str
) -> None:
    result = llmx(home, work, *argv)
    assert result.returncode == 2, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    match = ONE_LINE.match(lines[0])
    assert match is not None, lines[0]
    assert match["command"] == command, lines[0]
    assert option in match["what"], lines[0]


# A value for each option the root parser carries to the command.
VALUES = {"-C": "/", "-s": "workspace-write", "-a": "never", "--add-dir": "/tmp",
          "-m": "some-model", "-c": "k=1", "-p": "some-profile", "-i": "a.png"}


def leaves(parser: argparse.ArgumentParser, path: list[str]) -> Iterator[tuple[list[str],
                                                                             argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs and path:
        yield path, parser
    for sub in subs:
        seen: set[int] = set()
        for name, child in sub.choices.items():
            if id(child) not in seen:
                seen.add(id(child))
                yield from leaves(child, [*path, name])


def required_positionals(parser: argparse.ArgumentParser) -> list[str]:
    return ["x" for action in parser._actions
            if not action.option_strings and action.nargs in (None, "+")]


def parse(argv: list[str]) -> argparse.Namespace | str:
    """The namespace, or the refusal's line, of the whole parser tree; checked against
    the parser ``main`` builds for ``argv`` alone (its command's module, its chosen
    sub-command's options, the root's options only with words before the command)."""
    import contextlib
    import io

    results: list[argparse.Namespace | str] = []
    for parser in (build_parser(), parser_for(argv)):
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err):
                results.append(parser.parse_args(argv))
        except SystemExit:
            results.append(err.getvalue())
    assert results[0] == results[1], (argv, results)
    return results[0]


def test_every_option_before_every_command_parses_as_after_it() -> None:
    root = build_parser()
    carried = [action for action in root._actions
               if action.option_strings and action.dest not in ("help", "version")]
    assert len(carried) == 11
    taken = refused = 0
    for path, leaf in leaves(root, []):
        known = leaf._option_string_actions
        words = required_positionals(leaf)
        for action in carried:
            option = action.option_strings[0]
            given = [option] if action.nargs == 0 else [option, VALUES[option]]
            before = parse([*given, *path, *words])
            if all(spelling in known for spelling in action.option_strings):
                after = parse([*path, *given, *words])
                assert isinstance(after, argparse.Namespace), (path, option, after)
                assert before == after, (path, option)
                taken += 1
            else:
                assert isinstance(before, str), (path, option, before)
                assert before.startswith(f"llmx {' '.join(path)}: "), before
                assert "/".join(action.option_strings) in before, before
                refused += 1
    # Both kinds occur: the commands that run threads or sandboxes take most options.
    assert taken > 50, taken
    assert refused > 50, refused


def test_the_session_without_a_command_still_takes_them() -> None:
    args = parse(["-m", "gpt-x", "-s", "read-only", "-c", "k=1", "--no-alt-screen"])
    assert isinstance(args, argparse.Namespace)
    assert (args.command, args.model, args.sandbox, args.config, args.no_alt_screen) == (
        None, "gpt-x", "read-only", ["k=1"], True)


def test_the_app_server_sdk_form_parses_as_after_the_command() -> None:
    """``--config k=v app-server``, as the SDK launches it (a test over the wire sees the
    server use it); the pairs keep their order."""
    before = parse(["--config", 'model="m"', "-c", "a=1", "app-server", "-c", "b=2"])
    after = parse(["app-server", "--config", 'model="m"', "-c", "a=1", "-c", "b=2"])
    assert isinstance(before, argparse.Namespace)
    assert before == after
    assert before.config == ['model="m"', "a=1", "b=2"]
