"""The configuration model: what ``$LLMX_HOME/config.toml`` may say, with Codex's key names.

The file format is Codex's, so a Codex ``config.toml`` loads as is. Every model allows
extra keys: Codex ignores keys it does not know, and so do we, but we list them as
warnings (see :mod:`llmx.runtime.config_load`). A *known* key with a bad value is an error.
Loading, profiles and ``-c`` overrides live in ``config_load``; the built-in providers in
``config_providers``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

# Re-exported: the enums and defaults live apart from pydantic (see config_types).
from llmx.runtime.config_types import (
    DEFAULT_INLINE_OUTPUT_CAP_BYTES,
    DEFAULT_MODEL,
    DEFAULT_MODEL_PROVIDER,
    DEFAULT_PROJECT_DOC_MAX_BYTES,
    DEFAULT_REQUEST_MAX_RETRIES,
    DEFAULT_STREAM_IDLE_TIMEOUT_MS,
    DEFAULT_STREAM_MAX_RETRIES,
    MAX_RETRIES_CAP,
    ApprovalPolicy,
    EnvironmentInherit,
    FsyncPolicy,
    HistoryPersistence,
    ProviderDefaults,
    ReasoningEffort,
    ReasoningSummary,
    SandboxMode,
    Verbosity,
    WireApi,
    base_url_problem,
)

__all__ = [
    "DEFAULT_INLINE_OUTPUT_CAP_BYTES",
    "DEFAULT_MODEL",
    "DEFAULT_MODEL_PROVIDER",
    "DEFAULT_PROJECT_DOC_MAX_BYTES",
    "DEFAULT_REQUEST_MAX_RETRIES",
    "DEFAULT_STREAM_IDLE_TIMEOUT_MS",
    "DEFAULT_STREAM_MAX_RETRIES",
    "MAX_RETRIES_CAP",
    "ApprovalPolicy",
    "Config",
    "ConfigProfile",
    "EnvironmentInherit",
    "FsyncPolicy",
    "HistoryConfig",
    "HistoryPersistence",
    "IndexConfig",
    "ModelProviderInfo",
    "OtelConfig",
    "OtelToolResult",
    "ProviderDefaults",
    "ReasoningEffort",
    "ReasoningSummary",
    "RolloutConfig",
    "SandboxMode",
    "SandboxWorkspaceWrite",
    "ShellEnvironmentPolicy",
    "Verbosity",
    "WireApi",
]


class _Section(BaseModel):
    # Extra keys are kept (and reported as warnings), never an error: Codex ignores them.
    model_config = ConfigDict(extra="allow", frozen=True, use_enum_values=False)


class ModelProviderInfo(_Section, ProviderDefaults):
    """A ``[model_providers.NAME]`` table."""

    name: str | None = None
    base_url: str | None = None
    env_key: str | None = None
    env_key_instructions: str | None = None
    wire_api: WireApi = WireApi.RESPONSES
    query_params: dict[str, str] | None = None
    http_headers: dict[str, str] | None = None
    # Header name -> environment variable; the header is sent only when the variable is set.
    env_http_headers: dict[str, str] | None = None
    request_max_retries: StrictInt | None = Field(default=None, ge=0, le=MAX_RETRIES_CAP)
    stream_max_retries: StrictInt | None = Field(default=None, ge=0, le=MAX_RETRIES_CAP)
    stream_idle_timeout_ms: StrictInt | None = Field(default=None, gt=0)
    requires_openai_auth: StrictBool = False

    @field_validator("base_url")
    @classmethod
    def _base_url_is_a_url(cls, value: str | None) -> str | None:
        # Found when the file is read, not on the first request (or as a traceback).
        problem = None if value is None else base_url_problem(value)
        if problem is not None:
            raise ValueError(f"{problem}; write it like \"http://127.0.0.1:8000/v1\"")
        return value



class SandboxWorkspaceWrite(_Section):
    writable_roots: list[str] = Field(default_factory=list)
    network_access: StrictBool = False
    exclude_tmpdir_env_var: StrictBool = False
    exclude_slash_tmp: StrictBool = False


class ShellEnvironmentPolicy(_Section):
    inherit: EnvironmentInherit = EnvironmentInherit.ALL
    ignore_default_excludes: StrictBool = False
    exclude: list[str] = Field(default_factory=list)
    set: dict[str, str] = Field(default_factory=dict)
    include_only: list[str] = Field(default_factory=list)
    experimental_use_profile: StrictBool = False


class HistoryConfig(_Section):
    persistence: HistoryPersistence = HistoryPersistence.SAVE_ALL
    # 0 or absent: unlimited (as `llmx history` and the history file read it).
    max_bytes: StrictInt | None = Field(default=None, ge=0)


class RolloutConfig(_Section):
    """``[rollout]``: llmx's own settings for the rollout writer (Codex has no such table)."""

    # Also record streaming deltas (``agent_message_delta``...) in the rollout.
    persist_deltas: StrictBool = False
    # Command output above this size is kept once beside the rollout, capped inline.
    inline_output_cap_bytes: StrictInt = Field(default=DEFAULT_INLINE_OUTPUT_CAP_BYTES, ge=0)
    fsync: FsyncPolicy = FsyncPolicy.TURN


class IndexConfig(_Section):
    """``[index]``: where ``llmx sessions`` and ``exec resume`` look sessions up (llmx's own
    table). Without ``url`` the local sqlite index is used."""

    # ``postgresql://...``: a shared index on PostgreSQL, filled by ``llmx sessions sync``.
    url: str | None = None
    # The name this machine's rows carry in the shared index (default: the host name).
    machine: str | None = None


class OtelToolResult(_Section):
    # At most this many bytes of a tool's output go into a ``codex.tool_result`` record.
    max_bytes: int | None = Field(default=None, ge=0)


class OtelConfig(_Section):
    """``[otel]``, as Codex reads it. An exporter is ``"none"``, ``{otlp-http = {endpoint,
    protocol, headers, tls}}`` or ``{otlp-grpc = {endpoint, headers, tls}}``; its shape is
    checked where an exporter is built (``llmx.cli.otel_settings``)."""

    environment: str = "dev"
    # Logs; ``trace_exporter`` defaults to the same; metrics are off unless set (Codex's
    # default sends them to its own service, which llmx does not).
    exporter: Any = "none"
    trace_exporter: Any = None
    metrics_exporter: Any = "none"
    log_user_prompt: bool = False
    log_agent_responses: bool = False
    tool_result: OtelToolResult = Field(default_factory=OtelToolResult)


class ConfigProfile(_Section):
    """A ``[profiles.NAME]`` table: values that replace the top-level ones when selected."""

    model: str | None = None
    model_provider: str | None = None
    approval_policy: ApprovalPolicy | None = None
    sandbox_mode: SandboxMode | None = None
    model_reasoning_effort: ReasoningEffort | None = None
    model_reasoning_summary: ReasoningSummary | None = None
    model_verbosity: Verbosity | None = None
    hide_agent_reasoning: StrictBool | None = None
    default_permissions: str | None = None
    project_doc_max_bytes: StrictInt | None = Field(default=None, ge=0)


class Config(_Section):
    """The whole effective configuration (after profile, overrides and flags are applied)."""

    model: str = DEFAULT_MODEL
    model_provider: str = DEFAULT_MODEL_PROVIDER
    model_providers: dict[str, ModelProviderInfo] = Field(default_factory=dict)
    approval_policy: ApprovalPolicy = ApprovalPolicy.ON_REQUEST
    sandbox_mode: SandboxMode = SandboxMode.READ_ONLY
    sandbox_workspace_write: SandboxWorkspaceWrite = Field(default_factory=SandboxWorkspaceWrite)
    # Named permission profiles (``[permissions.NAME]``); their grammar belongs to the
    # sandbox package, which validates them when one is selected.
    permissions: dict[str, dict[str, Any]] = Field(default_factory=dict)
    default_permissions: str | None = None
    shell_environment_policy: ShellEnvironmentPolicy = Field(
        default_factory=ShellEnvironmentPolicy
    )
    history: HistoryConfig = Field(default_factory=HistoryConfig)
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    index: IndexConfig = Field(default_factory=IndexConfig)
    otel: OtelConfig = Field(default_factory=OtelConfig)
    profile: str | None = None
    profiles: dict[str, ConfigProfile] = Field(default_factory=dict)
    # argv of a program run after each turn with a JSON payload as its last argument.
    notify: list[str] | None = None
    project_doc_max_bytes: StrictInt = Field(default=DEFAULT_PROJECT_DOC_MAX_BYTES, ge=0)
    hide_agent_reasoning: StrictBool = False
    show_raw_agent_reasoning: StrictBool = False
    model_reasoning_effort: ReasoningEffort | None = None
    model_reasoning_summary: ReasoningSummary | None = None
    model_verbosity: Verbosity | None = None
    model_context_window: StrictInt | None = Field(default=None, gt=0)
    model_auto_compact_token_limit: StrictInt | None = None
    instructions: str | None = None
    developer_instructions: str | None = None
    # Accepted and kept for the MCP client; each server is ``{command, args, env, ...}``.
    mcp_servers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Codex writes ``[projects."/path"] trust_level = "trusted"``; kept as is.
    projects: dict[str, dict[str, Any]] = Field(default_factory=dict)
