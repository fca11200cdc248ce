"""Where a fork from a turn cuts its parent: the same byte offset and ordinal Codex 0.169
wrote into its own forks and revert segments of the same rollouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import PROJECT_ROOT

from llmx.projections.fork_point import ForkPointError, fork_point, list_turns
from llmx.projections.lineage import resolve_lineage

ROLLOUTS = PROJECT_ROOT / "tests" / "fixtures" / "codex-rich" / "rollouts"


def _base(name: str) -> dict[str, object]:
    with (ROLLOUTS / name).open("rb") as handle:
        base = json.loads(handle.readline())["payload"]["history_base"]
    assert isinstance(base, dict)
    return base


def _cut(name: str, **where: object) -> dict[str, object]:
    spans = resolve_lineage(ROLLOUTS / name)
    point = fork_point(spans, **where)  # type: ignore[arg-type]
    return {"thread_id": point.thread_id, "end_ordinal_exclusive": point.end_ordinal,
            "end_byte_offset": point.end_byte}


def test_the_cuts_codex_wrote() -> None:
    original = "fork_and_revert__original.rollout.jsonl"
    # thread/fork of the whole thread (through its last turn, turn 3).
    assert _cut(original, turn=3) == _base("fork_and_revert__full_fork.rollout.jsonl")
    # thread/revert {beforeTurnId: turn 2} kept turn 1: the same cut as a fork through it.
    turns = list_turns(resolve_lineage(ROLLOUTS / original))
    revert = _base("fork_and_revert__revert_segment.rollout.jsonl")
    assert _cut(original, turn=1) == revert
    assert _cut(original, before_turn_id=turns[1].turn_id) == revert
    assert _cut(original, through_turn_id=turns[0].turn_id) == revert
    # The TUI's `codex fork --last`.
    assert _cut("tui_fork_last__base.rollout.jsonl", turn=1) == _base(
        "tui_fork_last__fork.rollout.jsonl")


def test_a_turn_a_fork_inherited_is_cut_in_the_file_that_holds_it(tmp_path: Path) -> None:
    copies = []
    for name in ("fork_and_revert__original.rollout.jsonl",
                 "fork_and_revert__full_fork.rollout.jsonl"):
        data = (ROLLOUTS / name).read_bytes()
        thread_id = json.loads(data.split(b"\n", 1)[0])["payload"]["id"]
        copy = tmp_path / f"rollout-2026-11-21T05-31-40-{thread_id}.jsonl"
        copy.write_bytes(data)
        copies.append(copy)
    parent, fork = copies
    spans = resolve_lineage(fork)
    assert len(list_turns(spans)) == 4
    inherited = fork_point(spans, turn=2)
    assert inherited.path == parent
    assert (inherited.end_ordinal, inherited.end_byte) == (28, 48848)
    assert [span.path for span in inherited.spans] == [inherited.path]
    own = fork_point(spans, turn=4)
    assert own.path == fork
    assert own.end_byte == fork.stat().st_size
    assert [span.path for span in own.spans] == [inherited.path, fork]


def test_turns_that_are_not_there() -> None:
    spans = resolve_lineage(ROLLOUTS / "fork_and_revert__original.rollout.jsonl")
    with pytest.raises(ForkPointError, match="there is no turn 4: the thread has 3"):
        fork_point(spans, turn=4)
    with pytest.raises(ForkPointError, match="turn not found: nope"):
        fork_point(spans, through_turn_id="nope")
