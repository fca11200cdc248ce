"""A session's prompts in ``history.jsonl``: the metadata ``session_configured`` reports."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import within

from llmx.events.event_log import EventLog
from llmx.events.ops import Shutdown, UserTurn
from llmx.events.primitives import TextInput
from llmx.runtime.config.tables import HistoryConfig, HistoryPersistence, ModelProviderInfo
from llmx.runtime.config.types import ApprovalPolicy
from llmx.runtime.models.wires import open_model_client
from llmx.runtime.session import Session, session_meta
from llmx.runtime.session_history import PromptHistory
from llmx.runtime.session_sandbox import sandbox_setup
from llmx.runtime.session_types import SessionSettings
from llmx.sandbox.plan import ConfinementPlan

_KEY_ENV = "LLMX_SESSION_TEST_KEY"
_SCRIPT = {"turns": [], "fallback": [{"type": "message", "text": "answered"}]}


def _settings(tmp_path: Path) -> SessionSettings:
    workspace = tmp_path / "project"
    workspace.mkdir(exist_ok=True)
    return SessionSettings(
        thread_id="019a0000-0000-7000-8000-0000000000aa",
        cwd=workspace,
        model="mock-model",
        model_provider="mock",
        approval_policy=ApprovalPolicy.NEVER,
        sandbox=sandbox_setup(ConfinementPlan(unconfined=True), {"type": "danger-full-access"}),
    )


def test_persistence_none_keeps_no_history(tmp_path: Path) -> None:
    config = HistoryConfig(persistence=HistoryPersistence.NONE)
    assert PromptHistory.for_home(tmp_path, config, print) is None


@pytest.mark.asyncio
async def test_metadata_is_the_inode_and_count_and_grows_with_each_prompt(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    warnings: list[str] = []
    prompts = PromptHistory.for_home(home, HistoryConfig(), warnings.append)
    assert prompts is not None
    settings = _settings(tmp_path)
    log = EventLog.for_new_thread(home, session_meta(settings))
    with ModelServer(Script.from_json(_SCRIPT)) as server:
        provider = ModelProviderInfo(name="mock", base_url=server.base_url, env_key=_KEY_ENV,
                                     request_max_retries=0, stream_max_retries=0)
        model = open_model_client("mock", provider, env={_KEY_ENV: "dummy"})
        session = Session(settings, log, model, prompt_history=prompts)
        assert session.history_metadata() == (0, 0)
        try:
            for text in ("one", "two"):
                await session.submit(UserTurn(
                    items=[TextInput(text=text)], cwd=str(settings.cwd),
                    approval_policy="never", sandbox_policy=settings.sandbox.policy_json,
                    model=settings.model,
                ))
                # The submission reached the rollout before the prompt reached history.
                assert log.path is not None
                assert f'"{text}"' in log.path.read_text()
            await session.submit(Shutdown())
            await within(session.run(), "the session to shut down")
        finally:
            await model.aclose()
    history = home / "history.jsonl"
    assert session.history_metadata() == (os.stat(history).st_ino, 2)
    lines = [json.loads(line) for line in history.read_text().splitlines()]
    assert [(line["session_id"], line["text"]) for line in lines] == [
        (settings.thread_id, "one"), (settings.thread_id, "two"),
    ]
    assert warnings == []


def test_a_session_without_history_reports_zeroes(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    log = EventLog.for_new_thread(tmp_path / "home", session_meta(settings), ephemeral=True)
    session = Session(settings, log, model=None)  # type: ignore[arg-type]  # never sampled
    assert session.history_metadata() == (0, 0)
