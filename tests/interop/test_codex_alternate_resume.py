"""One session resumed in turn by llmx and by the real Codex CLI keeps one true record."""

from __future__ import annotations

from pathlib import Path

from e2e.exec_harness import events, make_env, rollout_lines
from interop.codex_cli import needs_codex, run_codex
from support.model_scripts import Script
from support.model_server import ModelServer

pytestmark = needs_codex


def test_token_totals_run_on_whoever_resumes(tmp_path: Path) -> None:
    script = {"turns": [], "fallback": {"items": [{"type": "message", "text": "ok"}],
                                        "usage": {"input_tokens": 100, "output_tokens": 10,
                                                  "total_tokens": 110}}}
    with ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url)
        first = env.run("first")
        assert first.returncode == 0, first.stderr
        [rollout] = env.rollouts()
        thread_id = rollout_lines(rollout)[0]["payload"]["id"]
        second = run_codex("exec", "resume", thread_id, "second", home=env.home,
                           cwd=env.workspace, env=env.env())
        assert second.returncode == 0, second.stderr
        third = env.run("resume", thread_id, "third")
        assert third.returncode == 0, third.stderr
        fourth = run_codex("exec", "resume", thread_id, "fourth", home=env.home,
                           cwd=env.workspace, env=env.env())
        assert fourth.returncode == 0, fourth.stderr
    assert env.rollouts() == [rollout]
    totals = [event["info"]["total_token_usage"]["total_tokens"]
              for event in events(rollout, "token_count")]
    assert totals == [110, 220, 330, 440]
    # Each program printed the thread's total when it finished.
    assert third.stderr.rsplit("tokens used\n", 1)[1].splitlines()[0] == "330"
    assert fourth.stderr.rsplit("tokens used\n", 1)[1].splitlines()[0] == "440"
