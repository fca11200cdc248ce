"""The checked-in sample rollout was written by llmx's writer and reads back cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import PROJECT_ROOT

from llmx.events import (
    EscalationRecord,
    ExecApproval,
    RolloutReader,
    SessionMeta,
    SubmissionRecord,
    UnknownPayload,
)

SAMPLE = PROJECT_ROOT / "examples" / "sample.rollout.jsonl"
SCRIPT = PROJECT_ROOT / "examples" / "record_sample.py"


def _shape(path: Path) -> list[tuple[str, str | None]]:
    return [(line.type, line.payload_type) for line in RolloutReader(path)]


def test_rollout_check_accepts_the_sample() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "llmx", "rollout", "check", "examples/sample.rollout.jsonl"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("; ok")


def test_sample_is_typed_throughout_and_shows_the_approval_round_trip() -> None:
    lines = list(RolloutReader(SAMPLE))
    items = [line.item() for line in lines]
    assert not [item for item in items if isinstance(item, UnknownPayload)]
    assert isinstance(items[0], SessionMeta)
    assert [line.ordinal for line in lines] == list(range(len(lines)))
    submissions = [i for i in items if isinstance(i, SubmissionRecord)]
    decisions = [s for s in submissions if isinstance(s.op, ExecApproval)]
    escalations = [i for i in items if isinstance(i, EscalationRecord)]
    assert len(decisions) == 1
    assert len(escalations) == 1
    assert escalations[0].decision_submission_id == decisions[0].id


def test_the_script_reproduces_the_sample(tmp_path: Path) -> None:
    target = tmp_path / "again.jsonl"
    subprocess.run([sys.executable, str(SCRIPT), str(target)], check=True, capture_output=True)
    assert _shape(target) == _shape(SAMPLE)
