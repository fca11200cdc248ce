"""A user_turn's own settings (model, approval policy, sandbox mode) apply to its turn and
the turns after it; a value that cannot be taken is a warning and changes nothing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import msgspec
import pytest
from support.model_server import scripted
from support.waits import WAIT_SECONDS, within

from llmx.events.ops import UserInputOp
from llmx.events.primitives import TextInput
from llmx.runtime import ThreadManager, ThreadOptions

pytestmark = pytest.mark.asyncio
KEY_ENV = "LLMX_TURN_SETTINGS_KEY"


def _home(tmp_path: Path, base_url: str) -> Path:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text(
        'model = "mock-model"\nmodel_provider = "mock"\n'
        "[model_providers.mock]\n"
        f'name = "mock"\nbase_url = "{base_url}"\nenv_key = "{KEY_ENV}"\n'
        "request_max_retries = 0\nstream_max_retries = 0\n"
    )
    return home


def _workspace(tmp_path: Path) -> Path:
    work = tmp_path / "project"
    work.mkdir()
    subprocess.run(["git", "init", "-q", str(work)], check=True, timeout=WAIT_SECONDS)
    return work


def _contexts(path: Path) -> list[dict[str, object]]:
    return [json.loads(line)["payload"] for line in path.read_text().splitlines()
            if json.loads(line)["type"] == "turn_context"]


async def test_a_turn_takes_the_model_policy_and_sandbox_it_asks_for(tmp_path: Path) -> None:
    work = _workspace(tmp_path)
    fallback = [{"type": "message", "text": "ok"}]
    with scripted({"turns": [], "fallback": fallback}) as model:
        home = _home(tmp_path, model.base_url)
        async with ThreadManager(home, model_env={KEY_ENV: "k"}) as manager:
            thread = await manager.open(ThreadOptions(
                cwd=work, sandbox_mode="workspace-write", approval_policy="on-request"))
            await thread.submit(thread.user_turn([TextInput(text="as opened")]))
            changed = thread.user_turn([TextInput(text="changed")])
            changed.model = "other-model"
            changed.approval_policy = "untrusted"
            changed.sandbox_policy = {"type": "read-only"}
            await thread.submit(changed)
            # A user_input op carries no settings: it runs with the thread's, now changed.
            await thread.submit(UserInputOp(items=[TextInput(text="kept")]))
            bad = thread.user_turn([TextInput(text="bad values")])
            bad.approval_policy = "sometimes"
            bad.sandbox_policy = {"type": "sideways"}
            await thread.submit(bad)
            path = thread.rollout_path
            await within(thread.close(), "the thread's close")
        requests = [r.body for r in model.model_requests()]
    assert path is not None
    contexts = [(c["model"], c["approval_policy"], c["sandbox_policy"]["type"])  # type: ignore[index]
                for c in _contexts(path)]
    assert contexts == [
        ("mock-model", "on-request", "workspace-write"),
        ("other-model", "untrusted", "read-only"),
        ("other-model", "untrusted", "read-only"),
        # Values that cannot be taken change nothing; the model is the one the op was
        # built with, before the change.
        ("mock-model", "untrusted", "read-only"),
    ]
    assert [r["model"] for r in requests] == ["mock-model", "other-model", "other-model",
                                              "mock-model"]
    warnings = [json.loads(line)["payload"]["message"] for line in path.read_text().splitlines()
                if '"type":"warning"' in line]
    assert len(warnings) == 2
    assert "unknown approval policy 'sometimes'" in warnings[0]
    assert "sideways" in warnings[1]
    assert all(w.endswith("the turn keeps the thread's setting") for w in warnings)
    assert msgspec.json.decode(path.read_bytes().splitlines()[0])["type"] == "session_meta"
