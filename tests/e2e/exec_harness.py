"""Running ``python -m llmx exec`` for real against the loopback model server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import PROJECT_ROOT
from support.waits import WAIT_SECONDS

API_KEY_ENV = "LLMX_TEST_MODEL_KEY"


def _sandbox_unavailable() -> str | None:
    from llmx.sandbox.linux.backends import choose_backend
    from llmx.sandbox.plan import ConfinementPlan

    try:
        choose_backend(ConfinementPlan())
    except Exception as exc:
        return str(exc)
    return None


_NO_SANDBOX = _sandbox_unavailable()
# For tests whose commands run under the kernel sandbox.
needs_sandbox = pytest.mark.skipif(
    _NO_SANDBOX is not None, reason=f"no kernel sandbox backend on this machine: {_NO_SANDBOX}"
)
STDIN_NOTICE = "Reading additional input from stdin...\n"


@dataclass
class ExecEnv:
    home: Path
    workspace: Path
    base_url: str

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("LLMX_", "OPENAI_"))
        }
        env.update(LLMX_HOME=str(self.home), NO_COLOR="1", **{API_KEY_ENV: "dummy"})
        env.update(extra)
        return env

    def run(
        self, *args: str, stdin: bytes = b"", env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [sys.executable, "-m", "llmx", "exec", *args],
            cwd=self.workspace,
            input=stdin,
            capture_output=True,
            env=env or self.env(),
            timeout=120,
            check=False,
        )
        return subprocess.CompletedProcess(
            completed.args,
            completed.returncode,
            completed.stdout.decode("utf-8", "replace"),
            completed.stderr.decode("utf-8", "replace"),
        )

    def rollouts(self) -> list[Path]:
        return sorted((self.home / "sessions").glob("*/*/*/rollout-*.jsonl"))

    def replay(self, rollout: Path, *, as_json: bool = False) -> subprocess.CompletedProcess[str]:
        args = [sys.executable, "-m", "llmx", "replay", str(rollout), "--color", "never"]
        if as_json:
            args.append("--json")
        return subprocess.run(
            args, capture_output=True, text=True, env=self.env(), timeout=60, check=False,
            cwd=self.workspace,
        )


# A model of Codex 0.169's catalog, for scripts that patch: as in Codex, a model the
# catalog does not name (``mock-model``) is not offered apply_patch.
PATCHING_MODEL = "gpt-5.5"


def make_env(tmp_path: Path, base_url: str, *, config_extra: str = "",
             model: str = "mock-model") -> ExecEnv:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text(
        f'model = "{model}"\nmodel_provider = "mock"\n'
        f"{config_extra}\n"
        "[model_providers.mock]\n"
        'name = "mock"\n'
        f'base_url = "{base_url}"\n'
        f'env_key = "{API_KEY_ENV}"\n'
        'wire_api = "responses"\n'
        "request_max_retries = 2\n"
        "stream_max_retries = 0\n"
    )
    workspace = tmp_path / "project"
    workspace.mkdir()
    subprocess.run(["git", "init", "-q", str(workspace)], check=True, timeout=WAIT_SECONDS)
    return ExecEnv(home, workspace, base_url)


def rollout_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def events(path: Path, kind: str) -> list[dict[str, Any]]:
    return [
        line["payload"]
        for line in rollout_lines(path)
        if line["type"] == "event_msg" and line["payload"]["type"] == kind
    ]


def completed_items(path: Path, item_type: str) -> list[dict[str, Any]]:
    return [
        payload["item"]
        for payload in events(path, "item_completed")
        if payload["item"]["type"] == item_type
    ]


def assert_replay_equals_live(env: ExecEnv, rollout: Path, live: subprocess.CompletedProcess[str],
                              *, as_json: bool = False) -> None:
    replayed = env.replay(rollout, as_json=as_json)
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout == live.stdout
    if not as_json:
        live_err = live.stderr.replace(STDIN_NOTICE, "")
        assert replayed.stderr == live_err


__all__ = ["PROJECT_ROOT"]
