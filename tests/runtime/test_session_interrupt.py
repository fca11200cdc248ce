"""The session's submission path on a real rollout file: write-ahead and early interrupts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import within

from llmx.events.event_log import EventLog
from llmx.events.ops import Interrupt, Shutdown, UserTurn
from llmx.events.primitives import TextInput
from llmx.runtime.config.tables import ModelProviderInfo
from llmx.runtime.config.types import ApprovalPolicy
from llmx.runtime.models.wires import open_model_client
from llmx.runtime.session import Session, session_meta
from llmx.runtime.session_sandbox import sandbox_setup
from llmx.runtime.session_types import SessionSettings
from llmx.sandbox.plan import ConfinementPlan

_KEY_ENV = "LLMX_SESSION_TEST_KEY"
_SCRIPT = {"turns": [[{"type": "message", "text": "answered"}]]}


def _settings(tmp_path: Path) -> SessionSettings:
    workspace = tmp_path / "project"
    workspace.mkdir(exist_ok=True)
    return SessionSettings(
        thread_id="019a0000-0000-7000-8000-000000000001",
        cwd=workspace,
        model="mock-model",
        model_provider="mock",
        approval_policy=ApprovalPolicy.NEVER,
        sandbox=sandbox_setup(ConfinementPlan(unconfined=True), {"type": "danger-full-access"}),
    )


def _turn(settings: SessionSettings, text: str) -> UserTurn:
    return UserTurn(
        items=[TextInput(text=text)], cwd=str(settings.cwd), approval_policy="never",
        sandbox_policy=settings.sandbox.policy_json, model=settings.model,
    )


async def _run(tmp_path: Path, server: ModelServer, *, interrupt_first: bool) -> Path:
    settings = _settings(tmp_path)
    log = EventLog.for_new_thread(tmp_path / "home", session_meta(settings))
    provider = ModelProviderInfo(name="mock", base_url=server.base_url, env_key=_KEY_ENV,
                                 request_max_retries=0, stream_max_retries=0)
    model = open_model_client("mock", provider, env={_KEY_ENV: "dummy"})
    session = Session(settings, log, model)
    try:
        if interrupt_first:
            # Before the turn is even queued: nothing runs yet that could be cancelled.
            await session.submit(Interrupt())
        await session.submit(_turn(settings, "hello"))
        await session.submit(Shutdown())
        await within(session.run(), "the session to shut down")
    finally:
        await model.aclose()
    assert log.path is not None
    return log.path


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _event_types(path: Path) -> list[str]:
    return [str(line["payload"]["type"]) for line in _lines(path)  # type: ignore[index]
            if line["type"] == "event_msg"]


@pytest.mark.asyncio
async def test_an_interrupt_before_the_turn_starts_is_logged_and_honoured(
    tmp_path: Path,
) -> None:
    with ModelServer(Script.from_json(_SCRIPT)) as server:
        path = await _run(tmp_path, server, interrupt_first=True)
        assert server.model_requests() == []
    lines = _lines(path)
    ops = [line["payload"]["op"]["type"] for line in lines  # type: ignore[index]
           if line["type"] == "submission"]
    assert ops == ["interrupt", "user_turn", "shutdown"]
    assert "turn_aborted" in _event_types(path)
    assert "task_complete" not in _event_types(path)
    assert [line["ordinal"] for line in lines] == list(range(len(lines)))


@pytest.mark.asyncio
async def test_without_an_interrupt_the_same_turn_completes(tmp_path: Path) -> None:
    with ModelServer(Script.from_json(_SCRIPT)) as server:
        path = await _run(tmp_path, server, interrupt_first=False)
        assert len(server.model_requests()) == 1
    types = _event_types(path)
    assert "turn_aborted" not in types
    assert types[-1] == "task_complete"
