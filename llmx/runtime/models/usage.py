"""Token usage from either wire API, as Codex's ``TokenUsage``.

The Responses API and Chat Completions report the same five numbers under different
names; one reader with the names as data serves both.
"""

from __future__ import annotations

import msgspec

from llmx.events import TokenUsage


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
