"""``llmx exec resume`` of a session the real Codex CLI recorded (a fixture rollout)."""

from __future__ import annotations

from pathlib import Path

from e2e.exec_harness import ExecEnv, make_env, rollout_lines
from support import CODEX_FIXTURES
from support.model_scripts import Script
from support.model_server import ModelServer

from llmx import __version__

CODEX_SESSION = CODEX_FIXTURES / "rollouts" / (
    "exec_json_shell_workspace_write_then_resume_last_again.rollout.jsonl"
)
CODEX_THREAD = "01a1fc90-b7a5-70e1-a144-262ede99cc4e"
FIXTURE_ROOT = "/home/dev/project"


def install_codex_session(env: ExecEnv) -> Path:
    """The Codex session's first turn (workspace-write, approval never), as if recorded in
    this workspace."""
    lines = CODEX_SESSION.read_text(encoding="utf-8").splitlines(keepends=True)
    first_turn_end = next(i for i, line in enumerate(lines) if '"task_complete"' in line)
    text = "".join(lines[: first_turn_end + 1]).replace(FIXTURE_ROOT, str(env.workspace))
    day = env.home / "sessions" / "2026" / "11" / "21"
    day.mkdir(parents=True)
    target = day / f"rollout-2026-11-21T05-25-05-{CODEX_THREAD}.jsonl"
    target.write_text(text, encoding="utf-8")
    return target


def test_the_live_header_and_the_log_name_llmx_as_the_program_of_its_turns(
    tmp_path: Path,
) -> None:
    script = {"turns": [], "fallback": [{"type": "message", "text": "resumed by llmx"}]}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        rollout = install_codex_session(env)
        live = env.run("-s", "workspace-write", "resume", CODEX_THREAD, "next step")
        assert live.returncode == 0, live.stderr
    # The turn llmx ran is announced as llmx's, not as the Codex that started the thread.
    assert live.stderr.splitlines()[1] == f"llmx v{__version__}"
    lines = rollout_lines(rollout)
    assert lines[0]["payload"]["originator"] == "codex_exec"
    kinds = [(line["type"], line["payload"].get("type")) for line in lines]
    started = [i for i, kind in enumerate(kinds) if kind == ("event_msg", "task_started")]
    # Codex's turn has no writer line before it; llmx's has one, with Codex's field names.
    assert lines[started[0] - 1]["type"] != "writer"
    writer = lines[started[1] - 1]
    assert writer["type"] == "writer"
    assert {key: writer["payload"][key] for key in ("originator", "cli_version")} == {
        "originator": "llmx_exec", "cli_version": __version__}
    # The tools llmx's turn offered, by name (what inspect shows).
    assert writer["payload"]["tools"][:2] == ["exec_command", "write_stdin"]
    # A replay names each turn's own program.
    titles = [line for line in env.replay(rollout).stderr.splitlines()
              if line.startswith(("OpenAI Codex v", "llmx v"))]
    assert titles == ["OpenAI Codex v0.169.0", f"llmx v{__version__}"]
