"""A thread rollback: the last N user turns leave the model's history (Codex's
``ThreadRollback``).

Nothing is removed from the rollout. A ``thread_rolled_back`` event with the number of
turns is appended and synced, so every reader that folds the file (llmx's resume fold,
Codex's reconstruction) drops the same turns; the session drops them from the history it
sends. The files those turns changed are left as they are. A rollback is refused, with an
``error`` event whose ``codex_error_info`` is ``thread_rollback_failed`` (Codex's texts),
when it asks for no turn, while a turn runs, or on a thread that keeps no rollout.
"""

from __future__ import annotations

from typing import Any

import msgspec

from llmx.events.event_log import EventLog
from llmx.events.event_msgs import ErrorEvent, ThreadRolledBack
from llmx.projections.turns import drop_last_user_turns_of
from llmx.runtime.session_types import HistoryItem

ROLLBACK_FAILED = "thread_rollback_failed"


def rollback_refusal(num_turns: int, *, turn_running: bool, persisted: bool) -> str | None:
    """Why a rollback of ``num_turns`` cannot happen now, in Codex's words; None if it can."""
    if num_turns < 1:
        return "num_turns must be >= 1"
    if turn_running:
        return "Cannot rollback while a turn is in progress."
    if not persisted:
        return "thread rollback requires persisted thread history"
    return None


async def roll_back(
    log: EventLog, history: list[HistoryItem], num_turns: int, *, turn_running: bool
) -> bool:
    """Drop the last ``num_turns`` user turns from ``history`` (in place) and record it;
    False, with the refusal recorded as an ``error`` event, when it cannot be done."""
    refusal = rollback_refusal(num_turns, turn_running=turn_running,
                               persisted=log.path is not None)
    if refusal is not None:
        await log.record(ErrorEvent(message=refusal, codex_error_info=ROLLBACK_FAILED))
        return False
    # The marker is on disk before anyone is told: a client that reads the file after
    # the event finds it there, as with Codex.
    await log.record(ThreadRolledBack(num_turns=num_turns))
    await log.sync()
    history[:] = drop_last_user_turns_of(history, num_turns, _as_dict)
    return True


def _as_dict(item: HistoryItem) -> dict[str, Any]:
    """A history item as JSON (a resumed item is kept as its recorded bytes)."""
    if isinstance(item, msgspec.Raw):
        decoded: dict[str, Any] = msgspec.json.decode(item)
        return decoded
    return item
