"""User-turn boundaries in model-context history, as Codex draws them.

Rollback ("drop the last N user turns") and legacy compaction both need to know which
history items start a turn. A ``user`` message starts one unless it is context the
harness injected (``<environment_context>``, AGENTS.md instructions, ``<turn_aborted>``
...); developer messages never do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

JsonObject = dict[str, Any]
ItemT = TypeVar("ItemT")

# Openings of user-role messages that carry context rather than a request (compared
# case-insensitively after leading whitespace). Codex adds fragments over time; unknown
# ones count as real user messages, which errs toward keeping history.
CONTEXTUAL_USER_PREFIXES: tuple[str, ...] = (
    "<environment_context>",
    "<user_instructions>",
    "# agents.md instructions for ",
    "<turn_aborted>",
    "<skill>",
    "<user_shell_command>",
    "<subagent_notification>",
    "<apps_instructions>",
    "<plugins_instructions>",
)

# The first line of the summary message that Codex's legacy compaction writes.
SUMMARY_PREFIX = (
    "Another language model started to solve this problem and produced a summary of its "
    "thinking process. You also have access to the state of the tools that were used by "
    "that language model. Use this to build on the work that has already been done and "
    "avoid duplicating work. Here is the summary produced by the other language model, use "
    "the information in this summary to assist with your own analysis:"
)

# Codex keeps at most this many (approximate) tokens of earlier user messages when it
# rebuilds history after a compaction that has no replacement history.
COMPACT_USER_MESSAGE_MAX_TOKENS = 20_000
_BYTES_PER_TOKEN = 4


def message_text(item: JsonObject) -> str:
    """The text parts of a ``message`` item joined by newlines (images skipped)."""
    parts = [
        part["text"]
        for part in item.get("content") or ()
        if isinstance(part, dict) and isinstance(part.get("text"), str) and part["text"]
    ]
    return "\n".join(parts)


def is_contextual_user_text(text: str) -> bool:
    lowered = text.lstrip().lower()
    return any(lowered.startswith(prefix) for prefix in CONTEXTUAL_USER_PREFIXES)


def is_contextual_user_message(item: JsonObject) -> bool:
    if item.get("type") != "message" or item.get("role") != "user":
        return False
    texts = [
        part.get("text", "")
        for part in item.get("content") or ()
        if isinstance(part, dict) and part.get("type") == "input_text"
    ]
    return bool(texts) and all(is_contextual_user_text(text) for text in texts)


def is_user_turn_boundary(item: JsonObject) -> bool:
    """True for an item that starts a user turn in model-context history."""
    if item.get("type") == "agent_message":
        return True
    return (
        item.get("type") == "message"
        and item.get("role") == "user"
        and not is_contextual_user_message(item)
    )


def _is_context_update(item: JsonObject) -> bool:
    if item.get("type") != "message":
        return False
    if item.get("role") == "developer":
        return True
    return is_contextual_user_message(item)


def drop_last_user_turns_of(
    items: Sequence[ItemT], num_turns: int, view: Callable[[ItemT], JsonObject]
) -> list[ItemT]:
    """:func:`drop_last_user_turns` for items of any kind, read through ``view``."""
    if num_turns <= 0:
        return list(items)
    boundaries = [index for index, item in enumerate(items) if is_user_turn_boundary(view(item))]
    if not boundaries:
        return list(items)
    first = boundaries[0]
    cut = first if num_turns >= len(boundaries) else boundaries[len(boundaries) - num_turns]
    while cut > first and _is_context_update(view(items[cut - 1])):
        cut -= 1
    return list(items[:cut])


def collect_user_messages_of(
    items: Sequence[ItemT], view: Callable[[ItemT], JsonObject]
) -> list[str]:
    """:func:`collect_user_messages` for items of any kind, read through ``view``."""
    found = []
    for item in items:
        value = view(item)
        if not is_user_turn_boundary(value) or value.get("type") != "message":
            continue
        text = message_text(value)
        if not text.startswith(SUMMARY_PREFIX + "\n"):
            found.append(text)
    return found


def compacted_history(
    initial_context: Sequence[JsonObject], user_messages: Sequence[str], summary: str
) -> list[JsonObject]:
    """History after a compaction that carries only a summary (no replacement history).

    The newest user messages are kept up to Codex's token budget (estimated at four
    bytes per token; an overlong message is cut), then the summary as a user message.
    """
    selected: list[str] = []
    remaining = COMPACT_USER_MESSAGE_MAX_TOKENS
    for text in reversed(user_messages):
        if remaining <= 0:
            break
        tokens = -(-len(text.encode()) // _BYTES_PER_TOKEN)
        if tokens <= remaining:
            selected.append(text)
            remaining -= tokens
        else:
            budget = remaining * _BYTES_PER_TOKEN
            selected.append(text.encode()[:budget].decode(errors="ignore") + "…[truncated]")
            break
    selected.reverse()
    history = [dict(item) for item in initial_context]
    history.extend(
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
        for text in [*selected, summary or "(no summary available)"]
    )
    return history
