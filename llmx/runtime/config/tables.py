"""The configuration model: what ``$LLMX_HOME/config.toml`` may say, with Codex's key names.

The file format is Codex's, so a Codex ``config.toml`` loads as is. The tables are msgspec
Structs, filled by ``msgspec.convert`` (see :mod:`llmx.runtime.config.load`), which
ignores keys a Struct does not declare: Codex ignores keys it does not know, and so do
we, but we list them as warnings. A *known* key with a bad value is an error.
Loading, profiles and ``-c`` overrides live in ``config.load``; the built-in providers in
``config.providers``.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import field

# Re-exported: the enums, defaults and the error type (see config.types).
from llmx.runtime.config.types import (
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
    WebSearchMode,
    WireApi,
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
    "WebSearchMode",
    "WireApi",
]


# Bounds of the integers Codex's keys take.
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Positive = Annotated[int, msgspec.Meta(gt=0)]
RetryCount = Annotated[int, msgspec.Meta(ge=0, le=MAX_RETRIES_CAP)]


class _Section(msgspec.Struct, frozen=True, kw_only=True):
    """A table of ``config.toml``: immutable once loaded; unknown keys are not an error."""


class ModelProviderInfo(_Section, ProviderDefaults, frozen=True, kw_only=True):
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
    request_max_retries: RetryCount | None = None
    stream_max_retries: RetryCount | None = None
    stream_idle_timeout_ms: Positive | None = None
    requires_openai_auth: bool = False


class SandboxWorkspaceWrite(_Section, frozen=True, kw_only=True):
    writable_roots: list[str] = field(default_factory=list)
    network_access: bool = False
    exclude_tmpdir_env_var: bool = False
    exclude_slash_tmp: bool = False


class ShellEnvironmentPolicy(_Section, frozen=True, kw_only=True):
    inherit: EnvironmentInherit = EnvironmentInherit.ALL
    ignore_default_excludes: bool = False
    exclude: list[str] = field(default_factory=list)
    set: dict[str, str] = field(default_factory=dict)
    include_only: list[str] = field(default_factory=list)
    experimental_use_profile: bool = False


class HistoryConfig(_Section, frozen=True, kw_only=True):
    persistence: HistoryPersistence = HistoryPersistence.SAVE_ALL
    # 0 or absent: unlimited (as `llmx history` and the history file read it).
    max_bytes: NonNegative | None = None


class RolloutConfig(_Section, frozen=True, kw_only=True):
    """``[rollout]``: llmx's own settings for the rollout writer (Codex has no such table)."""

    # Also record streaming deltas (``agent_message_delta``...) in the rollout.
    persist_deltas: bool = False
    # Command output above this size is kept once beside the rollout, capped inline.
    inline_output_cap_bytes: NonNegative = DEFAULT_INLINE_OUTPUT_CAP_BYTES
    fsync: FsyncPolicy = FsyncPolicy.TURN


class IndexConfig(_Section, frozen=True, kw_only=True):
    """``[index]``: where ``llmx sessions`` and ``exec resume`` look sessions up (llmx's own
    table). Without ``url`` the local sqlite index is used."""

    # ``postgresql://...``: a shared index on PostgreSQL, filled by ``llmx sessions sync``.
    url: str | None = None
    # The name this machine's rows carry in the shared index (default: the host name).
    machine: str | None = None


class OtelToolResult(_Section, frozen=True, kw_only=True):
    # At most this many bytes of a tool's output go into a ``codex.tool_result`` record.
    max_bytes: NonNegative | None = None


class OtelConfig(_Section, frozen=True, kw_only=True):
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
    tool_result: OtelToolResult = field(default_factory=OtelToolResult)


class ConfigProfile(_Section, frozen=True, kw_only=True):
    """A ``[profiles.NAME]`` table: values that replace the top-level ones when selected."""

    model: str | None = None
    model_provider: str | None = None
    approval_policy: ApprovalPolicy | None = None
    sandbox_mode: SandboxMode | None = None
    model_reasoning_effort: ReasoningEffort | None = None
    model_reasoning_summary: ReasoningSummary | None = None
    model_verbosity: Verbosity | None = None
    hide_agent_reasoning: bool | None = None
    default_permissions: str | None = None
    project_doc_max_bytes: NonNegative | None = None


class Config(_Section, frozen=True, kw_only=True):
    """The whole effective configuration (after profile, overrides and flags are applied)."""

    model: str = DEFAULT_MODEL
    model_provider: str = DEFAULT_MODEL_PROVIDER
    model_providers: dict[str, ModelProviderInfo] = field(default_factory=dict)
    approval_policy: ApprovalPolicy = ApprovalPolicy.ON_REQUEST
    sandbox_mode: SandboxMode = SandboxMode.READ_ONLY
    sandbox_workspace_write: SandboxWorkspaceWrite = field(default_factory=SandboxWorkspaceWrite)
    # Named permission profiles (``[permissions.NAME]``); their grammar belongs to the
    # sandbox package, which validates them when one is selected.
    permissions: dict[str, dict[str, Any]] = field(default_factory=dict)
    default_permissions: str | None = None
    shell_environment_policy: ShellEnvironmentPolicy = field(
        default_factory=ShellEnvironmentPolicy
    )
    history: HistoryConfig = field(default_factory=HistoryConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    otel: OtelConfig = field(default_factory=OtelConfig)
    profile: str | None = None
    profiles: dict[str, ConfigProfile] = field(default_factory=dict)
    # argv of a program run after each turn with a JSON payload as its last argument.
    notify: list[str] | None = None
    project_doc_max_bytes: NonNegative = DEFAULT_PROJECT_DOC_MAX_BYTES
    hide_agent_reasoning: bool = False
    show_raw_agent_reasoning: bool = False
    model_reasoning_effort: ReasoningEffort | None = None
    model_reasoning_summary: ReasoningSummary | None = None
    model_verbosity: Verbosity | None = None
    model_context_window: Positive | None = None
    model_auto_compact_token_limit: int | None = None
    # The prompt of a compaction (Codex's checkpoint prompt when unset), inline or read
    # from a file (``experimental_compact_prompt_file``, which wins, as in Codex).
    compact_prompt: str | None = None
    experimental_compact_prompt_file: str | None = None
    web_search: WebSearchMode = WebSearchMode.CACHED
    # A model catalog file in Codex's format, replacing the bundled one (the tools and
    # context window of each model).
    model_catalog_json: str | None = None
    instructions: str | None = None
    developer_instructions: str | None = None
    # Accepted and kept for the MCP client; each server is ``{command, args, env, ...}``.
    mcp_servers: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Codex writes ``[projects."/path"] trust_level = "trusted"``; kept as is.
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
