"""Every line of every real Codex rollout decodes, types, and is written back unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from support import fixture_rollouts

from llmx.events.event_msgs import EventMsg, ItemCompleted
from llmx.events.lines import Era, RolloutLine, UnknownPayload, decode_line
from llmx.events.primitives import UpdateFile
from llmx.events.records import LineType, SessionMeta
from llmx.events.turn_items import (
    AgentMessageItem,
    CommandExecutionItem,
    CommandExecutionStatus,
    FileChangeItem,
    McpToolCallItem,
    PatchApplyStatus,
    ReasoningItem,
    UserMessageItem,
)

ROLLOUTS = fixture_rollouts()


def _lines(path: Path) -> list[RolloutLine]:
    return [decode_line(raw) for raw in path.read_bytes().splitlines()]


def _is_subset(ours: Any, theirs: Any, where: str = "") -> list[str]:
    """Paths where ``ours`` (a typed re-encoding) says something ``theirs`` does not."""
    if isinstance(ours, dict):
        if not isinstance(theirs, dict):
            return [f"{where}: object vs {type(theirs).__name__}"]
        problems = []
        for key, value in ours.items():
            if key not in theirs:
                problems.append(f"{where}/{key}: written by us ({value!r}), absent in Codex's")
            else:
                problems += _is_subset(value, theirs[key], f"{where}/{key}")
        return problems
    if isinstance(ours, list):
        if not isinstance(theirs, list) or len(ours) != len(theirs):
            return [f"{where}: list shape differs"]
        problems = []
        for index, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
            problems += _is_subset(mine, other, f"{where}/{index}")
        return problems
    return [] if ours == theirs else [f"{where}: {ours!r} != {theirs!r}"]


def test_the_fixture_corpus_is_there() -> None:
    assert len(ROLLOUTS) >= 40


@pytest.mark.parametrize("path", ROLLOUTS, ids=lambda p: p.name)
def test_file_round_trips_byte_for_byte(path: Path) -> None:
    data = path.read_bytes()
    lines = _lines(path)
    assert b"".join(line.to_bytes() for line in lines) == data
    for line in lines:
        assert line.era is Era.ORDINAL
        assert json.loads(line.payload_raw) == json.loads(line.raw)["payload"]


@pytest.mark.parametrize("path", ROLLOUTS, ids=lambda p: p.name)
def test_every_payload_is_typed_and_its_encoding_agrees_with_codex(path: Path) -> None:
    for number, line in enumerate(_lines(path), start=1):
        item = line.item()
        assert not isinstance(item, UnknownPayload), f"line {number}: {item!r} {item.error}"
        ours = json.loads(msgspec.json.encode(item))
        theirs = json.loads(line.payload_raw)
        # Omitted-vs-null rules and field names: nothing we would write contradicts Codex.
        assert _is_subset(ours, theirs) == [], f"line {number} ({line.type})"


@pytest.mark.parametrize("path", ROLLOUTS, ids=lambda p: p.name)
def test_ordinals_count_up_from_the_first_line(path: Path) -> None:
    ordinals = [line.ordinal for line in _lines(path)]
    assert ordinals == list(range(ordinals[0], ordinals[0] + len(ordinals)))  # type: ignore[operator]


def _all_turn_items() -> list[Any]:
    found = []
    for path in ROLLOUTS:
        for line in _lines(path):
            event = line.payload_as(EventMsg) if line.type == LineType.EVENT_MSG else None
            if isinstance(event, ItemCompleted):
                found.append(event.item)
    return found


def test_turn_items_carry_what_projections_render() -> None:
    items = _all_turn_items()
    kinds = {type(item) for item in items}
    assert {UserMessageItem, AgentMessageItem, ReasoningItem, CommandExecutionItem} <= kinds
    assert {FileChangeItem, McpToolCallItem} <= kinds
    commands = [item for item in items if isinstance(item, CommandExecutionItem)]
    assert any(c.status is CommandExecutionStatus.COMPLETED and c.exit_code == 0 for c in commands)
    assert all(c.command and c.cwd for c in commands)
    assert any(c.duration and c.duration.nanos > 0 for c in commands)
    patches = [item for item in items if isinstance(item, FileChangeItem)]
    assert any(p.status is PatchApplyStatus.DECLINED for p in patches)
    updates = [c for p in patches for c in p.changes.values() if isinstance(c, UpdateFile)]
    assert any(u.move_path for u in updates)
    assert all(isinstance(u.unified_diff, str) for u in updates)
    users = [item for item in items if isinstance(item, UserMessageItem)]
    assert any("refactor" in u.text() for u in users)


def test_fork_meta_carries_its_history_base() -> None:
    fork = next(p for p in ROLLOUTS if p.name == "tui_fork_last__fork.rollout.jsonl")
    first = _lines(fork)[0]
    meta = first.item()
    assert isinstance(meta, SessionMeta)
    assert meta.forked_from_id
    assert meta.history_base
    assert meta.history_base.end_ordinal_exclusive == first.ordinal == 14
    assert meta.history_base.thread_id == meta.forked_from_id
    base = next(p for p in ROLLOUTS if p.name == "tui_fork_last__base.rollout.jsonl")
    # The parent's bytes up to the offset are exactly its lines below the ordinal.
    kept = base.read_bytes()[: meta.history_base.end_byte_offset].splitlines()
    assert decode_line(kept[-1]).ordinal == meta.history_base.end_ordinal_exclusive - 1
