"""What a turn tells the model when its situation changed since the turn before it.

A resumed thread (or one whose settings changed between turns) has its initial context on
record: the model was told the cwd, the sandbox and the approval policy of the turn that
recorded it. When the new turn runs elsewhere, confined differently, under another policy
or with another model, the model is told so before the user's message, as Codex 0.169
does: a developer message for a change of model, then one for a change of collaboration
mode (Default, Plan), then a fresh ``<environment_context>`` (which in llmx carries the
permissions too). Nothing is added when nothing changed.

The baseline is the newest surviving ``turn_context`` of the rollout (the resume fold's
reference context), then each turn's own settings once that turn reached the model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from llmx.runtime.collaboration import DEFAULT, CollaborationMode, mode_message, recorded_mode
from llmx.runtime.instructions import developer_message
from llmx.runtime.session_types import SessionSettings


class ContextBaseline(msgspec.Struct, frozen=True):
    """The settings the model was last told of (from a ``turn_context``)."""

    cwd: str | None
    approval_policy: str | None
    sandbox_policy: Any
    model: str | None
    # The collaboration mode (None: the turn_context does not say: Default).
    collaboration_mode: str | None = None
    # That mode as recorded, with its instructions (what a resumed thread goes on in).
    collaboration: CollaborationMode | None = None

    @classmethod
    def from_turn_context(
        cls, payload: dict[str, Any], previous_model: str | None = None
    ) -> ContextBaseline:
        """From a recorded ``turn_context`` (llmx's or Codex's); ``previous_model`` is the
        model of the last user turn, when the fold knows it."""
        cwd, approval = payload.get("cwd"), payload.get("approval_policy")
        mode = recorded_mode(payload)
        model = previous_model if previous_model is not None else payload.get("model")
        return cls(
            cwd=cwd if isinstance(cwd, str) else None,
            approval_policy=approval if isinstance(approval, str) else None,
            sandbox_policy=payload.get("sandbox_policy"),
            model=model if isinstance(model, str) else None,
            collaboration_mode=None if mode is None else mode.mode,
            collaboration=mode,
        )

    @classmethod
    def from_settings(cls, settings: SessionSettings) -> ContextBaseline:
        return cls(
            cwd=str(settings.cwd),
            approval_policy=settings.approval_policy.value,
            sandbox_policy=settings.sandbox.policy_json,
            model=settings.model,
            collaboration_mode=settings.collaboration.mode,
        )


def sandbox_key(policy: Any) -> tuple[Any, ...]:
    """What of a sandbox policy's JSON the model is told: its mode, network access and
    writable roots (Codex's and llmx's spellings of one policy compare equal)."""
    if not isinstance(policy, dict):
        return (policy,)
    roots = policy.get("writable_roots")
    return (
        policy.get("type"),
        bool(policy.get("network_access", False)),
        tuple(sorted(str(root) for root in roots)) if isinstance(roots, list) else (),
        bool(policy.get("exclude_tmpdir_env_var", False)),
        bool(policy.get("exclude_slash_tmp", False)),
    )


def model_switch_message(previous: str, current: str) -> dict[str, Any]:
    return developer_message(
        f"<model_switch>\nThe turns so far were answered by the model {previous}; from this "
        f"turn on, {current} answers. Carry on with the conversation as it stands.\n"
        "</model_switch>"
    )


def context_updates(
    baseline: ContextBaseline,
    settings: SessionSettings,
    environment: Callable[[], dict[str, Any]],
) -> list[dict[str, Any]]:
    """The messages that tell the model what changed since ``baseline`` (none if nothing):
    a model switch first, then the collaboration mode, then ``environment()``, a fresh
    environment context, when the cwd, the sandbox or the approval policy changed."""
    items: list[dict[str, Any]] = []
    if baseline.model is not None and baseline.model != settings.model:
        items.append(model_switch_message(baseline.model, settings.model))
    if (baseline.collaboration_mode or DEFAULT) != settings.collaboration.mode:
        items.append(mode_message(settings.collaboration))
    now = ContextBaseline.from_settings(settings)
    if (
        (baseline.cwd is not None and baseline.cwd != now.cwd)
        or (baseline.approval_policy is not None
            and baseline.approval_policy != now.approval_policy)
        or (baseline.sandbox_policy is not None
            and sandbox_key(baseline.sandbox_policy) != sandbox_key(now.sandbox_policy))
    ):
        items.append(environment())
    return items
