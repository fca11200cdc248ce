"""The params of the client requests llmx serves, decoded into msgspec Structs.

Field names are the wire's camelCase; fields llmx does not use are accepted and ignored
(clients send what the schema allows). A params object that does not decode is refused
with the text Codex's serde would give, so a missing field reads
``Invalid request: missing field `threadId` ``.
"""

from __future__ import annotations

import re
import typing
from typing import Any, Literal, TypeVar

import msgspec
from msgspec import Struct

from llmx.cli.app_server.rpc import invalid_request

T = TypeVar("T")

SandboxModeName = Literal["read-only", "workspace-write", "danger-full-access"]
ApprovalPolicyName = Literal["untrusted", "on-failure", "on-request", "never"]
ReviewerName = Literal["user", "auto_review", "guardian_subagent"]


class Params(Struct, rename="camel"):
    """Base of every params Struct (camelCase on the wire)."""


class ClientInfo(Params):
    name: str
    version: str
    title: str | None = None


class InitializeCapabilities(Params):
    experimental_api: bool = False
    opt_out_notification_methods: list[str] | None = None


class InitializeParams(Params):
    client_info: ClientInfo
    capabilities: InitializeCapabilities | None = None


class TextInputParam(Struct, tag_field="type", tag="text"):
    text: str
    text_elements: list[Any] = msgspec.field(default_factory=list)


class ImageInputParam(Struct, tag_field="type", tag="image"):
    url: str
    detail: str | None = None


class LocalImageInputParam(Struct, tag_field="type", tag="localImage"):
    path: str
    detail: str | None = None


class SkillInputParam(Struct, tag_field="type", tag="skill"):
    name: str
    path: str


class MentionInputParam(Struct, tag_field="type", tag="mention"):
    name: str
    path: str


UserInputParam = (
    TextInputParam | ImageInputParam | LocalImageInputParam | SkillInputParam | MentionInputParam
)


class ThreadSettingsParams(Params):
    """The overrides ``thread/start``, ``thread/resume`` and ``thread/fork`` share."""

    model: str | None = None
    model_provider: str | None = None
    cwd: str | None = None
    approval_policy: ApprovalPolicyName | dict[str, Any] | None = None
    approvals_reviewer: ReviewerName | None = None
    sandbox: SandboxModeName | None = None
    config: dict[str, Any] | None = None
    base_instructions: str | None = None
    developer_instructions: str | None = None


class ThreadStartParams(ThreadSettingsParams):
    ephemeral: bool | None = None
    thread_source: str | None = None
    service_name: str | None = None


class ThreadResumeParams(ThreadSettingsParams):
    thread_id: str = ""
    exclude_turns: bool = False


class ThreadForkParams(ThreadSettingsParams):
    thread_id: str = ""
    last_turn_id: str | None = None
    before_turn_id: str | None = None
    ephemeral: bool | None = None
    exclude_turns: bool = False


class ThreadIdParams(Params):
    """``thread/archive``, ``thread/unarchive``, ``thread/compact/start``..."""

    thread_id: str


class ThreadRollbackParams(Params):
    thread_id: str
    num_turns: int


class ThreadRevertParams(Params):
    thread_id: str
    before_turn_id: str


class ThreadReadParams(Params):
    thread_id: str
    include_turns: bool = False


class ThreadSetNameParams(Params):
    thread_id: str
    name: str


class ThreadListParams(Params):
    cursor: str | None = None
    limit: int | None = None
    sort_key: Literal["created_at", "updated_at", "recency_at", "section_position"] | None = None
    sort_direction: Literal["asc", "desc"] | None = None
    model_providers: list[str] | None = None
    source_kinds: list[str] | None = None
    archived: bool | None = None
    cwd: str | list[str] | None = None
    search_term: str | None = None


class SandboxPolicyParam(Struct, rename="camel"):
    type: Literal["readOnly", "workspaceWrite", "dangerFullAccess", "externalSandbox"]
    writable_roots: list[str] = msgspec.field(default_factory=list)
    network_access: bool | str = False


class CollaborationModeSettings(Struct):
    """``settings`` of a collaboration mode: snake_case on the wire, as Codex has it."""

    model: str | None = None
    reasoning_effort: str | None = None
    developer_instructions: str | None = None


class CollaborationModeParam(Struct):
    mode: Literal["plan", "default"]
    settings: CollaborationModeSettings = msgspec.field(
        default_factory=CollaborationModeSettings)


class TurnStartParams(Params):
    thread_id: str
    input: list[UserInputParam]
    cwd: str | None = None
    approval_policy: ApprovalPolicyName | dict[str, Any] | None = None
    approvals_reviewer: ReviewerName | None = None
    sandbox_policy: SandboxPolicyParam | None = None
    model: str | None = None
    effort: str | None = None
    summary: str | None = None
    output_schema: Any = None
    collaboration_mode: CollaborationModeParam | None = None


class TurnInterruptParams(Params):
    thread_id: str
    turn_id: str


class ModelListParams(Params):
    cursor: str | None = None
    limit: int | None = None
    include_hidden: bool | None = None
    model_provider: str | None = None


class ConfigReadParams(Params):
    cwd: str | None = None
    include_layers: bool = False


class GetAccountParams(Params):
    refresh_token: bool = False


class CommandExecParams(Params):
    command: list[str]
    cwd: str | None = None
    env: dict[str, str | None] | None = None
    timeout_ms: int | None = None
    disable_timeout: bool = False
    sandbox_policy: SandboxPolicyParam | None = None
    output_bytes_cap: int | None = None
    disable_output_cap: bool = False
    tty: bool = False
    stream_stdin: bool = False
    stream_stdout_stderr: bool = False


_MISSING = re.compile(r"Object missing required field `([^`]+)`")
_ENUM = re.compile(r"Invalid enum value '([^']*)'(?: - at `\$\.(\w+)`)?")


def decode(params: Any, target: type[T]) -> T:
    """``params`` (the request's JSON object) as ``target``, or Codex's ``-32600``."""
    if params is None:
        raise invalid_request("Invalid request: missing field `params`")
    try:
        return msgspec.convert(params, target)
    except msgspec.ValidationError as exc:
        raise invalid_request(_serde_text(str(exc), target)) from None


def _serde_text(message: str, target: type[Any]) -> str:
    missing = _MISSING.search(message)
    if missing is not None:
        return f"Invalid request: missing field `{missing.group(1)}`"
    enum = _ENUM.search(message)
    if enum is not None:
        value, field = enum.groups()
        allowed = _allowed_values(target, field)
        if allowed:
            listed = ", ".join(f"`{v}`" for v in allowed)
            return f"Invalid request: unknown variant `{value}`, expected one of {listed}"
        return f"Invalid request: unknown variant `{value}`"
    return f"Invalid request: {message}"


def _allowed_values(target: type[Any], wire_field: str | None) -> list[str]:
    if wire_field is None or not isinstance(target, type) or not issubclass(target, Struct):
        return []
    info = msgspec.structs.fields(target)
    hints = typing.get_type_hints(target)
    for field in info:
        if field.encode_name == wire_field:
            return [str(v) for v in _literals(hints[field.name])]
    return []


def _literals(hint: Any) -> list[Any]:
    if typing.get_origin(hint) is Literal:
        return list(typing.get_args(hint))
    found: list[Any] = []
    for arg in typing.get_args(hint):
        found.extend(_literals(arg))
    return found

