"""The contracts a session is built from: its settings, its log, its model, its sandbox.

Kept apart from the loop so frontends and tests can build a session from real parts
without importing the loop's internals.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from llmx.runtime.approvals import ApprovalPolicy, ReviewDecision
from llmx.runtime.models.request import ModelRequest
from llmx.runtime.models.stream import StreamEvent
from llmx.runtime.tools.shell import Spawner
from llmx.runtime.tools.specs import WireApi

SUBMISSION_LINE_TYPE = "submission"


class SessionLog(Protocol):
    """The session's only output: every line goes through here, in order.

    ``emit`` hands one rollout item (``session_meta``, ``turn_context``, ``response_item``,
    ``event_msg``, or one of our own line types) to the event log, which decides what is
    persisted and publishes to subscribers after the sink has it. ``sync`` is a durability
    barrier: when it returns, everything emitted before is on disk (fsynced).
    """

    async def emit(self, line_type: str, payload: dict[str, Any]) -> None: ...

    async def sync(self) -> None: ...

    async def close(self) -> None: ...


class ModelStreamer(Protocol):
    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]: ...


@dataclass(frozen=True)
class SandboxSetup:
    """The turn's sandbox as the tools need it."""

    # The Codex JSON of the policy (written into ``turn_context.sandbox_policy``).
    policy_json: dict[str, Any]
    # Spawns a command confined by the turn's policy (the plain spawner when unconfined).
    confined: Spawner
    # Spawns a command with no confinement (escalated runs).
    unconfined: Spawner
    # False for ``danger-full-access``: nothing is confined, denials cannot happen.
    filesystem_restricted: bool
    read_only: bool
    writable_roots: tuple[Path, ...]
    # Paths inside writable roots that stay read-only (``.git``, ``.codex``...).
    read_only_subpaths: tuple[Path, ...] = ()
    network_enabled: bool = False

    def is_writable(self, path: Path) -> bool:
        if not self.filesystem_restricted:
            return True
        if any(path == sub or path.is_relative_to(sub) for sub in self.read_only_subpaths):
            return False
        return any(path == root or path.is_relative_to(root) for root in self.writable_roots)


# Answers an approval request (the event payload) with a decision; the session then
# submits that decision as an op, so it is logged before it is acted on.
ApprovalResponder = Callable[[dict[str, Any]], Awaitable[ReviewDecision]]


@dataclass
class SessionSettings:
    thread_id: str
    cwd: Path
    model: str
    model_provider: str
    approval_policy: ApprovalPolicy
    sandbox: SandboxSetup
    wire_api: WireApi = WireApi.RESPONSES
    base_instructions: str = ""
    user_instructions: str | None = None
    reasoning_effort: str | None = None
    reasoning_summary: str = "auto"
    model_context_window: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    notify: tuple[str, ...] = ()
    originator: str = "llmx_exec"
    source: str = "exec"
    shell: str = "bash"
