"""The patches each live user turn applied, for reverting the files of rolled-back turns.

A history's user turns are the turns that carry a user's message (a ``user_message``
event, or a model-history user message that is not context), as a rollback counts them
(Codex's ``thread_rolled_back`` drops the last N of them and everything after). A turn's
patches are its completed ``FileChange`` items (llmx and Codex 0.169 record them
as ``item_completed``), or the successful ``patch_apply_end`` events of files that carry
only those; each as the changes it recorded, path by path, in the order they happened.
Only patches are known: what shell commands did to files is in no record.

The same walk gives the answers the user gave to the model's questions that the live turns
keep (``retained_context`` lines, ``verified_answer``; Codex 0.169 writes them, and so does
llmx): a rollback drops those of the turns it drops, a compaction does not.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from llmx.events.event_msgs import (
    ItemCompleted,
    PatchApplyEnd,
    TaskStarted,
    ThreadRolledBack,
    UserMessage,
)
from llmx.events.lines import LineError, decode_line
from llmx.events.primitives import FileChange
from llmx.events.records import RetainedVerifiedAnswer
from llmx.events.turn_items import FileChangeItem, PatchApplyStatus
from llmx.projections.lineage import RolloutSpan, lines_forward
from llmx.projections.turns import is_user_turn_boundary

# Cheap filters before a line is decoded.
_MARKS = (b'"task_started"', b'"turn_started"', b'"user_message"', b'"thread_rolled_back"',
          b'"FileChange"', b'"patch_apply_end"', b'"user"', b'"retained_context"')
# Codex keeps at most this many answers (the oldest go first).
MAX_VERIFIED_ANSWERS = 8


class AppliedPatch(msgspec.Struct, frozen=True):
    """One patch as recorded: its call id and its changes by absolute path."""

    call_id: str
    changes: tuple[tuple[str, FileChange], ...]


class _Turn(msgspec.Struct):
    turn_id: str
    user: bool = False
    patches: list[AppliedPatch] = msgspec.field(default_factory=list)
    answers: list[RetainedVerifiedAnswer] = msgspec.field(default_factory=list)
    seen: set[str] = msgspec.field(default_factory=set)


def patches_of_last_turns(spans: Sequence[RolloutSpan], num_turns: int) -> list[AppliedPatch]:
    """The patches of the last ``num_turns`` user turns of the history (and of any turn
    after them), oldest first; earlier rollbacks in the history are honoured."""
    turns = _live_turns(spans)
    start = _start_of_last_user_turns(turns, num_turns)
    return [patch for turn in turns[start:] for patch in turn.patches]


def verified_answers(spans: Sequence[RolloutSpan]) -> list[RetainedVerifiedAnswer]:
    """The answered questions the history keeps, oldest first (the last
    :data:`MAX_VERIFIED_ANSWERS`)."""
    kept = [answer for turn in _live_turns(spans) for answer in turn.answers]
    return kept[-MAX_VERIFIED_ANSWERS:]


def _live_turns(spans: Sequence[RolloutSpan]) -> list[_Turn]:
    turns: list[_Turn] = []
    for _span, _number, raw in lines_forward(spans):
        if raw.is_blank or not raw.terminated:
            continue
        if not any(mark in raw.data for mark in _MARKS):
            continue
        try:
            line = decode_line(raw.data)
        except LineError:
            continue
        if line.type == "response_item":
            item = msgspec.json.decode(line.payload_raw)
            if turns and isinstance(item, dict) and is_user_turn_boundary(item):
                turns[-1].user = True
            continue
        if line.type == "retained_context":
            answer = line.item()
            if isinstance(answer, RetainedVerifiedAnswer) and turns:
                turns[-1].answers.append(answer)
            continue
        if line.type != "event_msg":
            continue
        payload = line.item()
        if isinstance(payload, TaskStarted):
            turns.append(_Turn(payload.turn_id))
        elif isinstance(payload, UserMessage) and turns:
            turns[-1].user = True
        elif isinstance(payload, ThreadRolledBack):
            del turns[_start_of_last_user_turns(turns, payload.num_turns):]
        elif isinstance(payload, ItemCompleted) and turns:
            item = payload.item
            turn = turns[-1]
            if (isinstance(item, FileChangeItem) and payload.turn_id == turn.turn_id
                    and item.status == PatchApplyStatus.COMPLETED
                    and item.id not in turn.seen):
                turn.seen.add(item.id)
                turn.patches.append(AppliedPatch(item.id, tuple(item.changes.items())))
        elif isinstance(payload, PatchApplyEnd) and turns:
            turn = turns[-1]
            if (payload.success and payload.changes and payload.call_id not in turn.seen
                    and payload.turn_id in ("", turn.turn_id)):
                turn.seen.add(payload.call_id)
                turn.patches.append(
                    AppliedPatch(payload.call_id, tuple(payload.changes.items())))
    return turns


def _start_of_last_user_turns(turns: list[_Turn], num_turns: int) -> int:
    """Index of the ``num_turns``-th user turn from the end (0 if there are fewer)."""
    counted = 0
    for index in range(len(turns) - 1, -1, -1):
        if turns[index].user:
            counted += 1
            if counted == num_turns:
                return index
    return 0
