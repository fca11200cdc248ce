"""What llmx writes must load in Codex: the real Codex CLI resumes an llmx rollout.

Needs the Codex CLI binary, which the default run does not install (a 300 MB download):
point ``LLMX_CODEX_BIN`` at it, or have ``codex`` on ``PATH`` (``npm i @openai/codex``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from interop.codex_cli import CODEX, needs_codex
from support import PROJECT_ROOT
from support.model_server import scripted
from support.waits import WAIT_SECONDS

from llmx.projections.resume import fold_resume

SAMPLE = PROJECT_ROOT / "examples" / "sample.rollout.jsonl"
SAMPLE_ROOT = "/home/dev/project"


pytestmark = needs_codex


def _user_texts(items: list[dict[str, object]]) -> list[str]:
    texts = []
    for item in items:
        if item.get("type") == "message" and item.get("role") == "user":
            content = item.get("content")
            assert isinstance(content, list)
            texts.extend(str(part.get("text", "")) for part in content)
    return texts


def test_codex_resumes_a_session_llmx_recorded(tmp_path: Path) -> None:
    assert CODEX is not None
    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=project, check=True, timeout=WAIT_SECONDS)
    codex_home = tmp_path / "codex-home"
    day = codex_home / "sessions" / "2026" / "11" / "21"
    day.mkdir(parents=True)
    text = SAMPLE.read_text(encoding="utf-8").replace(SAMPLE_ROOT, str(project))
    thread_id = json.loads(text.splitlines()[0])["payload"]["id"]
    rollout = day / f"rollout-2026-11-21T06-00-00-{thread_id}.jsonl"
    rollout.write_text(text, encoding="utf-8")
    lines_before = len(text.splitlines())

    script = {"turns": [[{"type": "message", "text": "still here"}]]}
    with scripted(script) as server:
        (codex_home / "config.toml").write_text(
            'model = "mock-model"\nmodel_provider = "mock"\n'
            "[model_providers.mock]\n"
            f'name = "mock"\nbase_url = "{server.base_url}"\n'
            'wire_api = "responses"\nenv_key = "MOCK_API_KEY"\n',
            encoding="utf-8",
        )
        env = {**os.environ, "CODEX_HOME": str(codex_home), "MOCK_API_KEY": "test"}
        result = subprocess.run(
            [CODEX, "exec", "resume", thread_id, "are you there"],
            cwd=project, env=env, stdin=subprocess.DEVNULL, capture_output=True,
            text=True, timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith("still here")
        bodies = [request.body for request in server.model_requests()]

    # Codex folded llmx's rollout into the context it sent: the recorded prompt, the
    # recorded tool calls, then the new prompt.
    sent = bodies[-1]["input"]
    users = _user_texts(sent)
    recorded_prompt = fold_resume(SAMPLE).history
    assert _user_texts(recorded_prompt)[-1] in users
    assert users[-1] == "are you there"
    calls = [item for item in sent if item.get("type") in ("function_call", "custom_tool_call")]
    recorded_calls = [
        item for item in recorded_prompt
        if item.get("type") in ("function_call", "custom_tool_call")
    ]
    assert [c["call_id"] for c in calls] == [c["call_id"] for c in recorded_calls]

    # And llmx reads the file Codex appended to: every line parses, the new turn folds in.
    check = subprocess.run(
        [sys.executable, "-m", "llmx", "rollout", "check", str(rollout)],
        capture_output=True, text=True,
        timeout=WAIT_SECONDS,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert len(rollout.read_text(encoding="utf-8").splitlines()) > lines_before
    assert _user_texts(fold_resume(rollout).history)[-1] == "are you there"
