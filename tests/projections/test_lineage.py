"""Forks and revert segments of Codex 0.169 resolve through ``session_meta.history_base``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from projections.rollout_builder import install_rich_sessions, texts
from support import CODEX_RICH_FIXTURES

from llmx.projections.lineage import LineageError, parse_rollout_name, resolve_lineage
from llmx.projections.resume import fold_resume


def _real_prompts(history: list[dict[str, Any]]) -> list[str]:
    return [
        text
        for item, text in zip(history, texts(history), strict=True)
        if item.get("role") == "user" and not text.startswith("<")
    ]


def test_full_fork_continues_its_parent(tmp_path: Path) -> None:
    placed = install_rich_sessions(
        tmp_path, "fork_and_revert__original", "fork_and_revert__full_fork"
    )
    spans = resolve_lineage(placed["fork_and_revert__full_fork"])
    assert [span.path for span in spans] == [
        placed["fork_and_revert__original"], placed["fork_and_revert__full_fork"]
    ]
    assert spans[0].inherited
    assert spans[0].offset_verified
    assert spans[0].end == 55738  # OFFSETS.txt: the sanitized parent's end offset
    state = fold_resume(placed["fork_and_revert__full_fork"])
    assert _real_prompts(state.history) == [
        "turn one: write one.txt", "turn two", "turn three", "hello in the full fork"
    ]
    assert state.thread_id == "01a1fc96-c049-7173-b982-c45872c93136"


def test_partial_fork_takes_the_parent_up_to_its_base(tmp_path: Path) -> None:
    placed = install_rich_sessions(tmp_path, "tui_fork_last__base", "tui_fork_last__fork")
    parent = fold_resume(placed["tui_fork_last__base"])
    fork = fold_resume(placed["tui_fork_last__fork"])
    assert fork.history[: len(parent.history)] == parent.history
    assert len(fork.history) > len(parent.history)


def test_revert_segment_drops_the_reverted_turns(tmp_path: Path) -> None:
    placed = install_rich_sessions(
        tmp_path, "fork_and_revert__original", "fork_and_revert__revert_segment",
        "fork_and_revert__full_fork",
    )
    segment = placed["fork_and_revert__revert_segment"]
    name = parse_rollout_name(segment)
    assert name is not None
    assert name.segment_id is not None
    spans = resolve_lineage(segment)
    assert [span.path for span in spans] == [placed["fork_and_revert__original"], segment]
    state = fold_resume(segment)
    assert _real_prompts(state.history) == ["turn one: write one.txt", "hello after revert"]


def test_tui_backtrack_segment(tmp_path: Path) -> None:
    placed = install_rich_sessions(
        tmp_path, "tui_backtrack_esc_esc__original", "tui_backtrack_esc_esc__revert_segment"
    )
    state = fold_resume(placed["tui_backtrack_esc_esc__revert_segment"])
    prompts = _real_prompts(state.history)
    assert "second question" not in prompts
    assert prompts[-1] == "edited question"


def test_parent_found_in_search_roots(tmp_path: Path) -> None:
    placed = install_rich_sessions(
        tmp_path / "home", "fork_and_revert__original", "fork_and_revert__full_fork"
    )
    elsewhere = tmp_path / "elsewhere" / placed["fork_and_revert__full_fork"].name
    elsewhere.parent.mkdir()
    placed["fork_and_revert__full_fork"].rename(elsewhere)
    with pytest.raises(LineageError, match="01a1fc96-be8b-7441-95b1-9a5c3369fe94"):
        resolve_lineage(elsewhere)
    spans = resolve_lineage(elsewhere, [tmp_path / "home" / "sessions"])
    assert spans[0].path == placed["fork_and_revert__original"]


def test_parent_found_elsewhere_in_the_same_home(tmp_path: Path) -> None:
    placed = install_rich_sessions(
        tmp_path, "fork_and_revert__original", "fork_and_revert__full_fork"
    )
    archived = tmp_path / "archived_sessions" / placed["fork_and_revert__original"].name
    archived.parent.mkdir()
    placed["fork_and_revert__original"].rename(archived)
    moved = tmp_path / "sessions" / "2026" / "11" / "22" / placed["fork_and_revert__full_fork"].name
    moved.parent.mkdir()
    placed["fork_and_revert__full_fork"].rename(moved)
    spans = resolve_lineage(moved)
    assert spans[0].path == archived


def test_stale_byte_offset_falls_back_to_ordinals(tmp_path: Path) -> None:
    placed = install_rich_sessions(
        tmp_path, "fork_and_revert__original", "fork_and_revert__full_fork"
    )
    fork = placed["fork_and_revert__full_fork"]
    lines = fork.read_text(encoding="utf-8").splitlines(keepends=True)
    meta = json.loads(lines[0])
    meta["payload"]["history_base"]["end_byte_offset"] = 12345  # not a line end any more
    lines[0] = json.dumps(meta) + "\n"
    fork.write_text("".join(lines), encoding="utf-8")
    spans = resolve_lineage(fork)
    assert not spans[0].offset_verified
    assert spans[0].end == 55738
    assert _real_prompts(fold_resume(fork).history)[-1] == "hello in the full fork"


def test_missing_ordinal_in_parent_is_an_error(tmp_path: Path) -> None:
    placed = install_rich_sessions(
        tmp_path, "fork_and_revert__original", "fork_and_revert__full_fork"
    )
    fork = placed["fork_and_revert__full_fork"]
    lines = fork.read_text(encoding="utf-8").splitlines(keepends=True)
    meta = json.loads(lines[0])
    meta["payload"]["history_base"] = {"thread_id": meta["payload"]["history_base"]["thread_id"],
                                       "end_ordinal_exclusive": 500}
    lines[0] = json.dumps(meta) + "\n"
    fork.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(LineageError, match="ordinal 499"):
        resolve_lineage(fork)


def test_file_without_history_base_is_its_own_lineage() -> None:
    path = CODEX_RICH_FIXTURES / "rollouts" / "fork_and_revert__original.rollout.jsonl"
    spans = resolve_lineage(path)
    assert len(spans) == 1
    assert not spans[0].inherited
