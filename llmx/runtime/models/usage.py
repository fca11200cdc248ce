"""Token usage from either wire API, as Codex's ``TokenUsage``.

The Responses API and Chat Completions report the same five numbers under different
names; one reader with the names as data serves both.
"""

from __future__ import annotations

from typing import Any

import msgspec

from llmx.events.primitives import TokenUsage


class UsageNames(msgspec.Struct, frozen=True):
    """Where one wire API puts the counts in its ``usage`` object."""

    input: str
    output: str
    input_details: str
    output_details: str


RESPONSES_USAGE = UsageNames(
    "input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details"
)
CHAT_USAGE = UsageNames(
    "prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details"
)


def usage_from_wire(raw: object, names: UsageNames) -> TokenUsage | None:
    """``TokenUsage`` from a ``usage`` object; missing or malformed counts are 0."""
    if not isinstance(raw, dict):
        return None
    input_details = raw.get(names.input_details) or {}
    output_details = raw.get(names.output_details) or {}
    input_tokens = wire_count(raw.get(names.input))
    output_tokens = wire_count(raw.get(names.output))
    return TokenUsage(
        input_tokens=input_tokens,
        cached_input_tokens=wire_count(input_details.get("cached_tokens")),
        output_tokens=output_tokens,
        reasoning_output_tokens=wire_count(output_details.get("reasoning_tokens")),
        total_tokens=wire_count(raw.get("total_tokens")) or input_tokens + output_tokens,
    )


def wire_count(value: object) -> int:
    """A count from the wire: an int (not a bool), else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def added_usage(total: TokenUsage, usage: TokenUsage) -> TokenUsage:
    """``total`` plus ``usage``, count by count (``cache_write_input_tokens`` only when
    one of them reports it: Codex 0.169 does, the wire APIs llmx reads do not)."""
    added = TokenUsage(
        input_tokens=total.input_tokens + usage.input_tokens,
        cached_input_tokens=total.cached_input_tokens + usage.cached_input_tokens,
        output_tokens=total.output_tokens + usage.output_tokens,
        reasoning_output_tokens=total.reasoning_output_tokens + usage.reasoning_output_tokens,
        total_tokens=total.total_tokens + usage.total_tokens,
    )
    writes = [
        value for value in (total.cache_write_input_tokens, usage.cache_write_input_tokens)
        if isinstance(value, int)
    ]
    if writes:
        added.cache_write_input_tokens = sum(writes)
    return added


def recorded_total(info: dict[str, Any] | None) -> TokenUsage | None:
    """``info.total_token_usage`` of a recorded ``token_count`` (by llmx or Codex, any
    era), as the running total a resumed session continues from; None without one."""
    total = (info or {}).get("total_token_usage")
    if not isinstance(total, dict):
        return None
    counts = {
        key: wire_count(total.get(key))
        for key in ("input_tokens", "cached_input_tokens", "output_tokens",
                    "reasoning_output_tokens", "total_tokens")
    }
    usage = TokenUsage(**counts)
    if "cache_write_input_tokens" in total:
        usage.cache_write_input_tokens = wire_count(total["cache_write_input_tokens"])
    return usage
