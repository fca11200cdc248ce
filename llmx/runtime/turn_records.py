"""The lines that open and close a turn, built the same way for every kind of turn.

A user turn and a compaction both start with ``task_started`` and a ``turn_context``,
report usage as ``token_count`` and each model request as ``model_request``, and end
with ``task_complete`` (with the error, if the model failed) or ``turn_aborted``.
"""

from __future__ import annotations

import time
from typing import Any

from llmx.events.event_msgs import (
    ErrorEvent,
    TaskComplete,
    TaskStarted,
    TokenCount,
    TokenUsageInfo,
    TurnAborted,
)
from llmx.events.primitives import TokenUsage
from llmx.events.records import ModelRequestRecord, TurnContext
from llmx.runtime.models.errors import ModelError
from llmx.runtime.session_types import SessionSettings

# The ``codex_error_info`` values Codex names; other failures are "other".
_CODEX_ERROR_INFO = frozenset(
    {"context_window_exceeded", "usage_limit_exceeded", "unauthorized", "bad_request"}
)


def task_started(settings: SessionSettings, turn_id: str, started: float) -> TaskStarted:
    return TaskStarted(turn_id=turn_id, started_at=int(started),
                       model_context_window=settings.model_context_window,
                       collaboration_mode_kind=settings.collaboration.mode)


def turn_context(
    settings: SessionSettings, turn_id: str, output_schema: dict[str, Any] | None = None
) -> TurnContext:
    """The settings a turn ran with, for resume and for readers of the rollout."""
    context = TurnContext(
        turn_id=turn_id,
        cwd=str(settings.cwd),
        approval_policy=settings.approval_policy.value,
        sandbox_policy=settings.sandbox.policy_json,
        model=settings.model,
        summary=settings.reasoning_summary,
        collaboration_mode=settings.collaboration.recorded(settings.model,
                                                           settings.reasoning_effort),
    )
    if settings.reasoning_effort is not None:
        context.effort = settings.reasoning_effort
    if settings.user_instructions is not None:
        context.user_instructions = settings.user_instructions
    if output_schema is not None:
        context.final_output_json_schema = output_schema
    return context


def token_count(settings: SessionSettings, total: TokenUsage, last: TokenUsage) -> TokenCount:
    return TokenCount(
        info=TokenUsageInfo(
            total_token_usage=total,
            last_token_usage=last,
            model_context_window=settings.model_context_window,
        ),
    )


def model_failure(error: ModelError) -> tuple[ErrorEvent, dict[str, Any]]:
    """The ``error`` event for ``error`` and the error ``task_complete`` carries."""
    info = error.kind.value if error.kind.value in _CODEX_ERROR_INFO else "other"
    return (ErrorEvent(message=error.message, codex_error_info=info),
            {"message": error.message, "codex_error_info": info})


def task_complete(
    turn_id: str, started: float, last_agent_message: str | None,
    error: dict[str, Any] | None = None,
) -> TaskComplete:
    completed = time.time()
    payload = TaskComplete(
        turn_id=turn_id,
        last_agent_message=last_agent_message,
        started_at=int(started),
        completed_at=int(completed),
        duration_ms=int((completed - started) * 1000),
    )
    if error is not None:
        payload.error = error
    return payload


def turn_aborted(turn_id: str, started: float) -> TurnAborted:
    completed = time.time()
    return TurnAborted(
        reason="interrupted",
        turn_id=turn_id,
        started_at=int(started),
        completed_at=int(completed),
        duration_ms=int((completed - started) * 1000),
    )


def model_request(exchange: ModelRequestRecord | None,
                  turn_id: str) -> list[ModelRequestRecord]:
    """The ``model_request`` line of a request that ended (none when nothing was
    attempted: a missing API key, an interrupt before the end)."""
    if exchange is None:
        return []
    exchange.turn_id = turn_id
    return [exchange]
