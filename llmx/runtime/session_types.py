"""The contracts a session is built from: its settings, its model, its sandbox.

Kept apart from the loop so frontends and tests can build a session from real parts
without importing the loop's internals. The session's log is ``llmx.events.event_log.EventLog``
itself (with the ephemeral sink for ``--ephemeral``): there is no second writer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import msgspec

from llmx.events.event_msgs import (
    ApplyPatchApprovalRequest,
    ElicitationRequest,
    ExecApprovalRequest,
)
from llmx.runtime.collaboration import CollaborationMode
from llmx.runtime.config.types import ApprovalPolicy
from llmx.runtime.model_families import ModelFamily
from llmx.runtime.models.request import ModelRequest
from llmx.runtime.models.stream import StreamEvent
from llmx.runtime.tools.shell import Spawner
from llmx.runtime.tools.specs import WireApi
from llmx.sandbox.additional_permissions import AdditionalPermissions, BoundedSandbox
from llmx.sandbox.patch_safety import PatchTarget, check_targets, read_refusal
from llmx.sandbox.plan import ConfinementPlan

if TYPE_CHECKING:
    from llmx.runtime.mcp.connections import McpConnections

# One item of the model-context history: a dict built this session, or a resumed
# session's item kept as the bytes it was recorded as (spliced into the request body).
HistoryItem: TypeAlias = dict[str, Any] | msgspec.Raw


class ModelStreamer(Protocol):
    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]: ...


class SandboxSetup(msgspec.Struct, frozen=True):
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
    # What the kernel enforces for a confined command; apply_patch, which writes from
    # llmx's own process, is held to it by ``check_targets`` and ``read_refusal``.
    plan: ConfinementPlan
    network_enabled: bool = False
    # Spawns a command confined by another plan (a bounded escalation's).
    spawner_for: Callable[[ConfinementPlan], Spawner] | None = None
    # The sandbox of a ``with_additional_permissions`` command: the turn's profile with
    # the request merged in. None when the plan was not resolved from a profile.
    widen: Callable[[AdditionalPermissions], BoundedSandbox] | None = None
    # The profile denies reads that only the sandbox enforces: ``require_escalated`` and
    # the retry after a denial stay in the sandbox (as in Codex).
    denies_reads: bool = False

    def check_targets(self, targets: Iterable[PatchTarget]) -> list[PatchTarget]:
        """The patch targets with the sandbox's refusal (if any) of each."""
        return check_targets(targets, self.plan)

    def read_refusal(self, path: Path) -> str | None:
        return read_refusal(path, self.plan)


# An approval request as it is published (and written) before the decision; a frontend
# answers it by submitting an ``ExecApproval``/``PatchApproval`` op, or for a question of
# an MCP server (the approval of one of its tools) a ``ResolveElicitation``.
ApprovalRequest = ExecApprovalRequest | ApplyPatchApprovalRequest | ElicitationRequest


class SessionSettings(msgspec.Struct):
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
    # The context size (tokens of the last response) at which the thread is compacted
    # before it goes on; None: never automatically.
    auto_compact_token_limit: int | None = None
    # The compaction prompt; None: Codex's checkpoint prompt.
    compact_prompt: str | None = None
    # The provider's web search tool: cached, live or disabled.
    web_search_mode: str = "disabled"
    # The model catalog (``model_catalog_json``); None: Codex 0.169's bundled one.
    model_catalog: tuple[ModelFamily, ...] | None = None
    # Default or Plan (a turn's ``collaboration_mode``; kept for the turns after it).
    collaboration: CollaborationMode = msgspec.field(default_factory=CollaborationMode)
    env: Mapping[str, str] = msgspec.field(default_factory=dict)
    notify: tuple[str, ...] = ()
    originator: str = "llmx_exec"
    # What started the thread (``--thread-source``), kept in its ``session_meta``.
    thread_source: str | None = None
    source: str = "exec"
    shell: str = "bash"
    # The thread's MCP servers (None: none configured); their tools join each request.
    mcp: McpConnections | None = None
