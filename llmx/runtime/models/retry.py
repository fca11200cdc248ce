"""When to try a failed model request again, and how long to wait first."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import msgspec

from llmx.runtime.models.errors import ModelError, ModelErrorKind

# Codex's backoff: 200 ms doubling per attempt, with +-10 % jitter so that many clients
# failing together do not retry together.
INITIAL_DELAY_S = 0.2
BACKOFF_FACTOR = 2.0
# A server may ask for a long pause; beyond this we would rather fail and tell the user.
MAX_SERVER_DELAY_S = 300.0

_TRY_AGAIN = re.compile(r"(?i)try again in\s*(\d+(?:\.\d+)?)\s*(s|ms|seconds?)")


class RetryPolicy(msgspec.Struct, frozen=True):
    """Separate budgets, as in Codex: failures before the stream opened (HTTP status,
    connection) and failures of an open stream (idle, cut off, ``response.failed``)."""

    request_max_retries: int
    stream_max_retries: int

    def budget_for(self, during_stream: bool) -> int:
        return self.stream_max_retries if during_stream else self.request_max_retries


def backoff_delay(attempt: int, *, jitter: bool = True) -> float:
    """Delay before retry number ``attempt`` (counted from 1)."""
    base = INITIAL_DELAY_S * BACKOFF_FACTOR ** max(attempt - 1, 0)
    return base * (random.uniform(0.9, 1.1) if jitter else 1.0)


def delay_for(error: ModelError, attempt: int) -> float:
    if error.retry_after is not None:
        return min(max(error.retry_after, 0.0), MAX_SERVER_DELAY_S)
    return backoff_delay(attempt)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds (fractions accepted) or an HTTP date."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max((when - current).total_seconds(), 0.0)


def parse_retry_after_ms(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(float(value.strip()) / 1000.0, 0.0)
    except ValueError:
        return None


def delay_from_message(message: str | None) -> float | None:
    """The pause named in a rate-limit message ("Please try again in 1.5s")."""
    if not message:
        return None
    found = _TRY_AGAIN.search(message)
    if found is None:
        return None
    value = float(found.group(1))
    return value / 1000.0 if found.group(2).lower() == "ms" else value


def is_retryable(error: ModelError) -> bool:
    return error.kind is not ModelErrorKind.MISSING_API_KEY and error.retryable
