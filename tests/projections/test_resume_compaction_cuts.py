"""The resume fold around a compaction equals what Codex 0.169 sends, at every cut point.

``tests/fixtures/codex-compaction`` holds rollouts the real Codex CLI wrote while it
compacted (before a turn, and in the middle of one), and, for every cut point of each
(its first K lines), the ``input`` Codex sent when it resumed that cut file with the
prompt ``next`` (see ``generate.py`` there). Codex's request is its base instructions
(never recorded), the restored history, then what the new turn adds: context messages
and the prompt. So the fold of each cut must be exactly the history part of that request,
and what follows it must be the new turn alone: a turn restored twice, or one missing,
fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from support import FIXTURES

from llmx.projections.resume import fold_resume, fold_resume_raw, prompt_input, prompt_input_raw

CUTS = FIXTURES / "codex-compaction"
SCENARIOS = sorted(path.name.removesuffix(".rollout.jsonl")
                   for path in CUTS.glob("*.rollout.jsonl"))
# What a new turn may add before its prompt: Codex's context messages.
CONTEXT_PREFIXES = ("<environment_context>", "<skills_instructions>", "<permissions instructions>",
                    "# AGENTS.md instructions", "<model_switch>")


def _cases() -> list[tuple[str, int]]:
    cases = []
    for name in SCENARIOS:
        rows = (CUTS / f"{name}.resume-inputs.jsonl").read_text().splitlines()
        cases.extend((name, json.loads(row)["lines"]) for row in rows)
    return cases


def _sent(name: str, lines: int) -> list[dict[str, Any]]:
    rows = (CUTS / f"{name}.resume-inputs.jsonl").read_text().splitlines()
    row = json.loads(rows[lines - 1])
    assert row["lines"] == lines
    sent: list[dict[str, Any]] = row["input"]
    return sent


def _cut(name: str, lines: int, tmp_path: Path) -> Path:
    whole = (CUTS / f"{name}.rollout.jsonl").read_bytes().splitlines(keepends=True)
    path = tmp_path / "cut.jsonl"
    path.write_bytes(b"".join(whole[:lines]))
    return path


def _comparable(item: dict[str, Any], recorded_ids: set[str]) -> dict[str, Any]:
    """``item`` as compared: the id Codex gives an ``aborted`` output it adds on resume
    (derived in a way these fixtures do not show) is left out; every other field counts."""
    if item.get("output") == "aborted" and item.get("id") not in recorded_ids:
        return {key: value for key, value in item.items() if key != "id"}
    return item


def _text(item: dict[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("text", ""))
    return ""


def test_every_scenario_compacts() -> None:
    assert SCENARIOS == ["compact_before_turn", "compact_mid_turn"]
    for name in SCENARIOS:
        text = (CUTS / f"{name}.rollout.jsonl").read_text()
        assert '"type":"compacted"' in text


@pytest.mark.parametrize(("name", "lines"), _cases())
def test_the_fold_of_every_cut_is_what_codex_sends(name: str, lines: int, tmp_path: Path) -> None:
    path = _cut(name, lines, tmp_path)
    sent = _sent(name, lines)
    recorded_ids = {str(json.loads(line)["payload"].get("id"))
                    for line in path.read_text().splitlines()
                    if json.loads(line)["type"] == "response_item"}
    restored = prompt_input(fold_resume(path).history)
    raw = [msgspec.json.decode(bytes(item))
           for item in prompt_input_raw(fold_resume_raw(path).history)]
    assert raw == restored
    # sent[0] is Codex's base instructions; the history follows it.
    history_part = [_comparable(item, recorded_ids) for item in sent[1 : 1 + len(restored)]]
    assert [_comparable(item, recorded_ids) for item in restored] == history_part
    new_turn = sent[1 + len(restored) :]
    assert new_turn
    assert _text(new_turn[-1]) == "next"
    assert new_turn[-1]["role"] == "user"
    for item in new_turn[:-1]:
        assert item.get("type") == "message"
        assert item.get("role") in ("developer", "user")
        assert _text(item).startswith(CONTEXT_PREFIXES), (
            f"cut at {lines} lines: {_text(item)[:60]!r} is history the fold left out")
