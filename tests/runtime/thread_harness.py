"""What the runtime's thread tests share: a home whose model provider is the loopback
model server (no retries: a scripted failure is final), a git workspace, a prompt
submitted, and a subscription read to its end."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.model_server import ModelServer
from support.waits import WAIT_SECONDS

from llmx.events.lines import RolloutLine
from llmx.events.primitives import TextInput
from llmx.runtime import AgentThread, ThreadEvents


def write_config(home: Path, server: ModelServer, key_env: str) -> None:
    """``home``'s config.toml: mock-model on ``server``, its API key read from ``key_env``."""
    home.mkdir(mode=0o700, exist_ok=True)
    (home / "config.toml").write_text(
        'model = "mock-model"\nmodel_provider = "mock"\n'
        "[model_providers.mock]\n"
        f'name = "mock"\nbase_url = "{server.base_url}"\nenv_key = "{key_env}"\n'
        "request_max_retries = 0\nstream_max_retries = 0\n"
    )


def git_workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "project"
    workspace.mkdir()
    subprocess.run(["git", "init", "-q", str(workspace)], check=True, timeout=WAIT_SECONDS)
    return workspace


async def submit_prompt(thread: AgentThread, text: str) -> None:
    await thread.submit(thread.user_turn([TextInput(text=text)]))


async def read_all(events: ThreadEvents) -> list[RolloutLine]:
    """Every line of ``events`` until the thread closes it."""
    return [line async for line in events]
