"""The configuration's enums, defaults and error type.

The tables of :mod:`llmx.runtime.config.tables` take their enums and defaults from here; modules
that only need an enum (the rollout writer's fsync policy, the model wires, approvals)
import this small module rather than the tables.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from llmx.events.fsync_policy import FsyncPolicy as FsyncPolicy
from llmx.events.limits import DEFAULT_INLINE_OUTPUT_BYTES

# The sandbox owns the mode; it is re-exported here because every enum of the config
# lives in this module.
from llmx.sandbox.policy import SandboxMode as SandboxMode


class ConfigError(Exception):
    """A configuration problem; ``str()`` is one line naming where, which key and what to do.

    Defined here rather than beside the TOML helpers (which re-export it) so that catching it
    does not import ``tomllib``.
    """


def base_url_problem(url: str) -> str | None:
    """What is wrong with a provider's ``base_url``, or None: it must be an ``http`` or
    ``https`` URL naming a host (and a port, when one is given, that is a number)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (reading it checks it)
    except ValueError as exc:
        return f"is not a URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "is not an http:// or https:// URL"
    if not parts.hostname:
        return "names no host"
    return None


DEFAULT_MODEL = "gpt-5.5"
DEFAULT_MODEL_PROVIDER = "openai"
DEFAULT_PROJECT_DOC_MAX_BYTES = 32 * 1024
# Codex's provider defaults (model_provider_info.rs); the maxima stop a typo from
# turning one failed request into hours of retries.
DEFAULT_REQUEST_MAX_RETRIES = 4
DEFAULT_STREAM_MAX_RETRIES = 5
DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000
MAX_RETRIES_CAP = 100
# One default for the writer and the config: the event store's.
DEFAULT_INLINE_OUTPUT_CAP_BYTES = DEFAULT_INLINE_OUTPUT_BYTES


class WireApi(enum.Enum):
    """Which HTTP API a provider speaks."""

    RESPONSES = "responses"
    CHAT = "chat"


class ApprovalPolicy(enum.Enum):
    """``approval_policy`` / ``-a``: when the user is asked before a command runs."""

    # Ask for everything but known-safe read-only commands.
    UNTRUSTED = "untrusted"
    # Run sandboxed without asking; ask to re-run unsandboxed after a sandbox denial.
    ON_FAILURE = "on-failure"
    # The model asks (``sandbox_permissions: "require_escalated"``); the default.
    ON_REQUEST = "on-request"
    # Never ask: escalation requests are refused, failures go back to the model.
    NEVER = "never"

    @classmethod
    def parse(cls, value: str, *, source: str) -> ApprovalPolicy:
        try:
            return cls(value)
        except ValueError:
            accepted = ", ".join(policy.value for policy in cls)
            raise ValueError(
                f"unknown approval policy {value!r} in {source}; accepted: {accepted}"
            ) from None


class ReasoningEffort(enum.Enum):
    NONE = "none"
    MINIMAL = "minimal"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    XHIGH = "xhigh"


class ReasoningSummary(enum.Enum):
    AUTO = "auto"
    CONCISE = "concise"
    DETAILED = "detailed"
    NONE = "none"


class Verbosity(enum.Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class WebSearchMode(enum.Enum):
    """Codex's ``web_search``: the provider's own search tool, from its index only
    (``cached``, the default), also live on the web (``live``), or not offered."""

    DISABLED = "disabled"
    CACHED = "cached"
    LIVE = "live"


class HistoryPersistence(enum.Enum):
    SAVE_ALL = "save-all"
    NONE = "none"


class EnvironmentInherit(enum.Enum):
    ALL = "all"
    CORE = "core"
    NONE = "none"


class ProviderDefaults:
    """The effective retry and timeout settings of a provider (Codex's defaults when unset):
    a mixin of ``ModelProviderInfo`` (a msgspec Struct, so it declares no slots of its own)."""

    __slots__ = ()

    if TYPE_CHECKING:
        # Declared for the type checker only: the class using the mixin defines the fields.
        request_max_retries: int | None
        stream_max_retries: int | None
        stream_idle_timeout_ms: int | None

    @property
    def effective_request_max_retries(self) -> int:
        return (
            DEFAULT_REQUEST_MAX_RETRIES
            if self.request_max_retries is None
            else self.request_max_retries
        )

    @property
    def effective_stream_max_retries(self) -> int:
        return (
            DEFAULT_STREAM_MAX_RETRIES
            if self.stream_max_retries is None
            else self.stream_max_retries
        )

    @property
    def effective_stream_idle_timeout_ms(self) -> int:
        return (
            DEFAULT_STREAM_IDLE_TIMEOUT_MS
            if self.stream_idle_timeout_ms is None
            else self.stream_idle_timeout_ms
        )
