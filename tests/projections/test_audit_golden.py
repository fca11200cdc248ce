"""Golden audit reports (JSON and rendered text) of every Codex fixture rollout.

Regenerate after an intended change with ``LLMX_UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support import fixture_rollouts

from llmx.projections.audit.fold import audit_rollout
from llmx.projections.audit.render import render_text

GOLDEN = Path(__file__).parent / "golden" / "audit"
UPDATE = os.environ.get("LLMX_UPDATE_GOLDEN") == "1"


def _stem(path: Path) -> str:
    return f"{path.parent.parent.name}__{path.name.removesuffix('.rollout.jsonl')}"


def _check(golden: Path, actual: str) -> None:
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"{golden.name} missing: run with LLMX_UPDATE_GOLDEN=1"
    assert actual == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("rollout", fixture_rollouts(), ids=_stem)
def test_audit_json_matches_golden(rollout: Path) -> None:
    report = audit_rollout(rollout)
    text = json.dumps(report.to_json(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    _check(GOLDEN / f"{_stem(rollout)}.json", text)


@pytest.mark.parametrize("rollout", fixture_rollouts(), ids=_stem)
def test_audit_text_matches_golden(rollout: Path) -> None:
    _check(GOLDEN / f"{_stem(rollout)}.txt", render_text(audit_rollout(rollout)))


def test_every_fixture_has_a_golden_pair() -> None:
    expected = {f"{_stem(path)}.{ext}" for path in fixture_rollouts() for ext in ("json", "txt")}
    assert {path.name for path in GOLDEN.iterdir()} == expected
