"""``--json`` exec output of every fixture rollout, against reviewed golden files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from projections.exec_replay_support import check_golden, fixture_name, run_replay
from support import fixture_rollouts


@pytest.mark.parametrize("path", fixture_rollouts(), ids=fixture_name)
def test_json_replay_matches_golden(path: Path) -> None:
    code, out, err = run_replay(path, as_json=True)
    assert code == 0
    assert err == ""
    for line in out.splitlines():
        assert isinstance(json.loads(line), dict)
    check_golden(f"{fixture_name(path)}.jsonl", out)
