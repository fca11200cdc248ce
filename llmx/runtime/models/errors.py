"""The one error type a model client raises, classified so the turn loop can react to it.

A client never raises httpx exceptions to its caller: every failure is translated into a
:class:`ModelError` whose ``kind`` says what happened and whether retrying could help.
The turn loop records it as an ``error`` event; ``str(error)`` is the one-line message.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmx.events.records import ModelRequestRecord


class ModelErrorKind(enum.Enum):
    """Why a model request failed."""

    # The provider's ``env_key`` is not set (or empty); nothing was sent.
    MISSING_API_KEY = "missing_api_key"
    # HTTP 401/403: the key was refused.
    UNAUTHORIZED = "unauthorized"
    # HTTP 400/404/422 and other 4xx: the request itself is wrong; retrying cannot help.
    BAD_REQUEST = "bad_request"
    # The conversation no longer fits the model's context window.
    CONTEXT_WINDOW_EXCEEDED = "context_window_exceeded"
    # The account's quota or plan usage limit is spent (not a transient rate limit).
    USAGE_LIMIT = "usage_limit"
    # HTTP 429 that stayed 429 after every retry.
    RATE_LIMITED = "rate_limited"
    # HTTP 5xx, or a ``response.failed`` event without a more specific code.
    SERVER = "server"
    # The server could not be reached or dropped the connection.
    CONNECTION = "connection"
    # The stream went silent for longer than ``stream_idle_timeout_ms``.
    IDLE_TIMEOUT = "idle_timeout"
    # The stream ended before its terminal event (``response.completed`` / ``[DONE]``).
    STREAM_INCOMPLETE = "stream_incomplete"
    # An event of the stream could not be decoded at all (JSON nested too deeply): the
    # stream is dropped rather than read on with an event missing.
    BAD_STREAM = "bad_stream"


# Kinds worth another attempt (with backoff), as Codex retries them.
RETRYABLE_KINDS = frozenset(
    {
        ModelErrorKind.RATE_LIMITED,
        ModelErrorKind.SERVER,
        ModelErrorKind.CONNECTION,
        ModelErrorKind.IDLE_TIMEOUT,
        ModelErrorKind.STREAM_INCOMPLETE,
        ModelErrorKind.BAD_STREAM,
    }
)


# A server's error body is shown and recorded up to this size, as Codex caps the messages
# it shows (2 KiB): its start and its end, with how much was left out between them.
MESSAGE_MAX_BYTES = 2 * 1024


def capped_message(text: str, limit: int = MESSAGE_MAX_BYTES) -> str:
    """``text`` whole when it fits in ``limit`` bytes, else its first and last halves."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    half = limit // 2
    head = raw[:half].decode("utf-8", errors="ignore")
    tail = raw[len(raw) - half :].decode("utf-8", errors="ignore")
    left_out = len(raw) - len(head.encode("utf-8")) - len(tail.encode("utf-8"))
    return f"{head}…({left_out} bytes left out)…{tail}"


class ModelError(Exception):
    """A failed model request.

    ``message`` is what the user sees: for an HTTP error it is the response body as the
    server sent it (Codex prints the body verbatim, e.g. ``{"error": {...}}``), otherwise
    a sentence naming what failed and what to do.
    """

    def __init__(
        self,
        kind: ModelErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        # What a server sent is shown and recorded capped (a 2 MB error page was printed
        # whole with every retry).
        message = capped_message(message)
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        # Seconds the server asked us to wait (``Retry-After`` or "try again in 1.5s").
        self.retry_after = retry_after
        # How the request went over the wire, attempt by attempt (set by the client when
        # the request is given up; None when nothing was attempted).
        self.exchange: ModelRequestRecord | None = None

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS

    def __repr__(self) -> str:
        return f"ModelError({self.kind.value}, status={self.status}, message={self.message!r})"


# Error codes in a response body (or a ``response.failed`` event) that name the cause
# better than the HTTP status does.
_CONTEXT_CODES = frozenset({"context_length_exceeded"})
_USAGE_LIMIT_CODES = frozenset({"insufficient_quota", "usage_not_included", "usage_limit_reached"})


def error_code_of(body: object) -> str | None:
    """``error.code`` (or ``error.type`` for usage limits) of an OpenAI-style error body."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if not isinstance(error, dict):
        return None
    for key in ("code", "type"):
        value = error.get(key)
        if isinstance(value, str) and (
            key == "code" or value in _USAGE_LIMIT_CODES or value in _CONTEXT_CODES
        ):
            return value
    return None


def kind_for_code(code: str | None) -> ModelErrorKind | None:
    if code in _CONTEXT_CODES:
        return ModelErrorKind.CONTEXT_WINDOW_EXCEEDED
    if code in _USAGE_LIMIT_CODES:
        return ModelErrorKind.USAGE_LIMIT
    return None


def kind_for_status(status: int, code: str | None) -> ModelErrorKind:
    """Classify a non-2xx response as Codex does (429 and 5xx are worth retrying)."""
    by_code = kind_for_code(code)
    if by_code is not None:
        return by_code
    if status in (401, 403):
        return ModelErrorKind.UNAUTHORIZED
    if status == 429:
        return ModelErrorKind.RATE_LIMITED
    if status >= 500:
        return ModelErrorKind.SERVER
    return ModelErrorKind.BAD_REQUEST
