"""Human exec output of every fixture rollout, against reviewed golden files."""

from __future__ import annotations

from pathlib import Path

import pytest
from projections.exec_replay_support import check_golden, fixture_name, run_replay
from support import fixture_rollouts


@pytest.mark.parametrize("path", fixture_rollouts(), ids=fixture_name)
def test_human_replay_matches_golden(path: Path) -> None:
    code, out, err = run_replay(path)
    assert code == 0
    check_golden(f"{fixture_name(path)}.human.txt", f"{err}---- stdout ----\n{out}")


@pytest.mark.parametrize("path", fixture_rollouts(), ids=fixture_name)
def test_colour_only_adds_escapes(path: Path) -> None:
    """``--color always`` styles the same text: stripping the escapes gives plain output."""
    import re

    _, _, plain = run_replay(path)
    _, _, coloured = run_replay(path, color=True)
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
