"""What the turn loop asks of a model: one sampling request, independent of the wire API."""

from __future__ import annotations

import enum
import platform
from collections.abc import Sequence
from typing import Any

import msgspec

from llmx import __version__

DEFAULT_ORIGINATOR = "llmx_exec"
# Codex asks for encrypted reasoning so that stateless (``store: false``) requests carry
# the model's earlier reasoning back in ``input``.
REASONING_INCLUDE = ("reasoning.encrypted_content",)


class Reasoning(msgspec.Struct, frozen=True):
    """The ``reasoning`` request field ``{"effort", "summary"}``; absent parts are omitted."""

    effort: str | None = None
    summary: str | None = None

    def to_wire(self) -> dict[str, str]:
        wire: dict[str, str] = {}
        if self.effort is not None:
            wire["effort"] = self.effort
        if self.summary is not None:
            wire["summary"] = self.summary
        return wire


class ToolChoice(enum.Enum):
    AUTO = "auto"
    NONE = "none"
    REQUIRED = "required"


class RequestIdentity(msgspec.Struct, frozen=True):
    """Ids the request headers carry so the server can correlate requests of one thread."""

    thread_id: str
    # Codex sends the thread id as ``session-id`` too; a separate value is allowed for forks.
    session_id: str | None = None
    # ``x-client-request-id``; Codex uses the thread id.
    client_request_id: str | None = None
    turn_id: str | None = None


class ModelRequest(msgspec.Struct, frozen=True):
    """One sampling request.

    ``input`` is the model context: ``ResponseItem`` Structs of ``llmx.events`` or plain
    dicts in Codex's JSON shape (messages, reasoning, function_call, function_call_output,
    custom_tool_call, custom_tool_call_output...). Codex 0.169 sends its base prompt as the
    first ``developer`` message of ``input`` and no ``instructions`` field; set
    ``instructions`` only for servers that want the older top-level field.

    ``tools`` are tool definitions in the Responses API shape
    (``{"type": "function", "name", "description", "strict", "parameters"}``,
    ``{"type": "custom", "name", "description", "format"}``, ...). The Chat Completions
    client converts them.
    """

    model: str
    input: Sequence[Any]
    identity: RequestIdentity
    tools: Sequence[dict[str, Any]] = ()
    instructions: str | None = None
    tool_choice: ToolChoice = ToolChoice.AUTO
    parallel_tool_calls: bool = True
    reasoning: Reasoning | None = None
    # ``{"verbosity": "low"}`` for models that accept it (Codex sends it for gpt-5.5).
    text: dict[str, Any] | None = None
    # Defaults to the thread id, as Codex does.
    prompt_cache_key: str | None = None
    client_metadata: dict[str, str] | None = None
    # Extra headers for this request only (``x-codex-turn-metadata`` and the like).
    extra_headers: dict[str, str] = msgspec.field(default_factory=dict)


def user_agent(originator: str) -> str:
    system = platform.system() or "unknown"
    release = platform.release() or "unknown"
    machine = platform.machine() or "unknown"
    return f"{originator}/{__version__} ({system} {release}; {machine}) llmx/{__version__}"
