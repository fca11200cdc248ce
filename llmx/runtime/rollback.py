"""A thread rollback: the last N user turns leave the model's history (Codex's
``ThreadRollback``).

Nothing is removed from the rollout. A ``thread_rolled_back`` event with the number of
turns is appended and synced, so every reader that folds the file (llmx's resume fold,
Codex's reconstruction) drops the same turns; the session drops them from the history it
sends. The files those turns changed are left as they are, unless the rollback asks for
them to be reverted (llmx's ``revert_files``): then the patches those turns applied are
undone first, newest first, all or nothing (``llmx.runtime.file_revert``), and recorded
as a ``FileChange`` item of their own (turn id empty, id ``revert-`` and the submission's
id, whose line says who asked) before the rollback's marker. What shell commands changed
cannot be reverted. A rollback is refused, with an ``error`` event whose
``codex_error_info`` is ``thread_rollback_failed`` (Codex's texts), when it asks for no
turn, while a turn runs, or on a thread that keeps no rollout; and, asked to revert, when
a file changed since its patch or the sandbox forbids the write (naming the file).
"""

from __future__ import annotations

from typing import Any

import msgspec

from llmx.events.event_log import EventLog
from llmx.events.event_msgs import ErrorEvent, ItemCompleted, ItemStarted, ThreadRolledBack
from llmx.events.turn_items import REVERT_ITEM_PREFIX, FileChangeItem, PatchApplyStatus
from llmx.projections.lineage import LineageError, resolve_lineage
from llmx.projections.turn_patches import patches_of_last_turns
from llmx.projections.turns import drop_last_user_turns_of, is_user_turn_boundary
from llmx.runtime.file_revert import RevertError, RevertPlan, plan_revert, refused_write
from llmx.runtime.session_types import HistoryItem, SandboxSetup
from llmx.runtime.tool_context import now_ms
from llmx.runtime.tools.patch_apply import apply_plan

ROLLBACK_FAILED = "thread_rollback_failed"


def user_turn_count(history: list[HistoryItem]) -> int:
    """How many user turns ``history`` holds: the most a rollback can drop."""
    return sum(1 for item in history if is_user_turn_boundary(_as_dict(item)))


def rollback_refusal(num_turns: int, *, turn_running: bool, persisted: bool) -> str | None:
    """Why a rollback of ``num_turns`` cannot happen now, in Codex's words; None if it can."""
    if num_turns < 1:
        return "num_turns must be >= 1"
    if turn_running:
        return "Cannot rollback while a turn is in progress."
    if not persisted:
        return "thread rollback requires persisted thread history"
    return None


class FileRevert(msgspec.Struct, frozen=True):
    """A rollback's request to revert its turns' patches: whose sandbox, which thread,
    and the submission that asked."""

    sandbox: SandboxSetup
    thread_id: str
    submission_id: str


async def roll_back(
    log: EventLog, history: list[HistoryItem], num_turns: int, *, turn_running: bool,
    revert: FileRevert | None = None,
) -> bool:
    """Drop the last ``num_turns`` user turns from ``history`` (in place) and record it;
    False, with the refusal recorded as an ``error`` event, when it cannot be done."""
    refusal = rollback_refusal(num_turns, turn_running=turn_running,
                               persisted=log.path is not None)
    if refusal is None and revert is not None:
        refusal = await _revert_files(log, num_turns, revert)
    if refusal is not None:
        await log.record(ErrorEvent(message=refusal, codex_error_info=ROLLBACK_FAILED))
        return False
    # The marker is on disk before anyone is told: a client that reads the file after
    # the event finds it there, as with Codex.
    await log.record(ThreadRolledBack(num_turns=num_turns))
    await log.sync()
    history[:] = drop_last_user_turns_of(history, num_turns, _as_dict)
    return True


async def _revert_files(log: EventLog, num_turns: int, revert: FileRevert) -> str | None:
    """Undo the patches of the last ``num_turns`` user turns and record it; the refusal
    (nothing written) when that cannot be done."""
    # Every line the turns wrote is in the file before it is read.
    await log.sync()
    assert log.path is not None
    try:
        patches = patches_of_last_turns(resolve_lineage(log.path), num_turns)
    except (LineageError, OSError) as exc:
        return f"cannot revert files: the session's history cannot be read ({exc})"
    if not patches:
        return None
    try:
        plan = plan_revert(patches, revert.sandbox.read_refusal)
    except RevertError as exc:
        return str(exc)
    if not plan.changes:
        return None
    refused = refused_write(revert.sandbox.check_targets(plan.plan.targets))
    if refused is not None:
        return refused
    return await _apply(log, plan, revert)


async def _apply(log: EventLog, plan: RevertPlan, revert: FileRevert) -> str | None:
    item = FileChangeItem(id=REVERT_ITEM_PREFIX + revert.submission_id, changes=plan.changes,
                          status=PatchApplyStatus.IN_PROGRESS)
    started = now_ms()
    await log.record(ItemStarted(thread_id=revert.thread_id, turn_id="", item=item,
                                 started_at_ms=started))
    try:
        apply_plan(plan.plan)
    except OSError as exc:
        failed = msgspec.structs.replace(item, status=PatchApplyStatus.FAILED, stdout="",
                                         stderr=str(exc))
        await log.record(ItemCompleted(thread_id=revert.thread_id, turn_id="", item=failed,
                                       started_at_ms=started, completed_at_ms=now_ms()))
        return f"cannot revert files: {exc}"
    done = msgspec.structs.replace(item, status=PatchApplyStatus.COMPLETED,
                                   stdout=plan.summary(), stderr="")
    await log.record(ItemCompleted(thread_id=revert.thread_id, turn_id="", item=done,
                                   started_at_ms=started, completed_at_ms=now_ms()))
    return None


def _as_dict(item: HistoryItem) -> dict[str, Any]:
    """A history item as JSON (a resumed item is kept as its recorded bytes)."""
    if isinstance(item, msgspec.Raw):
        decoded: dict[str, Any] = msgspec.json.decode(item)
        return decoded
    return item
