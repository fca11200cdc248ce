"""The checked-in sample rollout was recorded from a real ``llmx exec`` run and reads back
cleanly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import PROJECT_ROOT
from support.waits import WAIT_SECONDS

from llmx.events.event_msgs import ExecApprovalRequest, ItemCompleted, TaskComplete
from llmx.events.lines import UnknownPayload
from llmx.events.ops import ExecApproval, Shutdown
from llmx.events.reader import RolloutReader
from llmx.events.records import (
    Approver,
    DecisionRecord,
    EscalationRecord,
    SandboxDenialRecord,
    SessionMeta,
    SubmissionRecord,
)
from llmx.events.response_items import FunctionCallOutput
from llmx.events.turn_items import CommandExecutionItem, FileChangeItem

SAMPLE = PROJECT_ROOT / "examples" / "sample.rollout.jsonl"
SCRIPT = PROJECT_ROOT / "examples" / "record_sample.py"


def _shape(path: Path) -> list[tuple[str, str | None]]:
    return [(line.type, line.payload_type) for line in RolloutReader(path)]


def test_rollout_check_accepts_the_sample() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "llmx", "rollout", "check", "examples/sample.rollout.jsonl"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=False,
        timeout=WAIT_SECONDS,
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
    # Answered by --approval-decision, before the run: recorded as such, not as a person.
    assert decisions[0].decided_by is Approver.PRESET
    assert escalations[0].approved_by is Approver.PRESET
    [settled] = [i for i in items if isinstance(i, DecisionRecord)]
    assert (settled.decision, settled.decided_by, settled.submission_id) == (
        "approved", Approver.PRESET, decisions[0].id)
    # Request, decision, escalation, then the escalated command: in that order on disk.
    [request] = [i for i, item in enumerate(items) if isinstance(item, ExecApprovalRequest)]
    decision = items.index(decisions[0])
    escalation = items.index(escalations[0])
    completed = [item.item for item in items if isinstance(item, ItemCompleted)]
    commands = [item for item in completed if isinstance(item, CommandExecutionItem)]
    assert request < decision < escalation
    # A write under workspace-write, then the escalated rerun: the kernel's refusal
    # outside the workspace, as the command started, is no item (as in Codex) but a
    # sandbox_denial line, followed by the call's output with the shell's words.
    assert [command.exit_code for command in commands] == [0, 0]
    [denial] = [i for i in items if isinstance(i, SandboxDenialRecord)]
    assert denial.exit_code == 1
    assert denial.command[-1] == "echo 'shared note' > ../shared/notes.txt"
    [told] = [i for i in items if isinstance(i, FunctionCallOutput)
              and i.call_id == denial.call_id]
    assert "Read-only file system" in str(told.output)
    assert items.index(denial) < items.index(told) < request
    [patch] = [item for item in completed if isinstance(item, FileChangeItem)]
    assert patch.status == "completed"
    # The turn ends, then the session shuts down (its submission logged when acted on).
    assert isinstance(items[-2], TaskComplete)
    assert isinstance(items[-1], SubmissionRecord)
    assert isinstance(items[-1].op, Shutdown)


def test_sample_names_no_path_of_the_recording_machine() -> None:
    meta = next(iter(RolloutReader(SAMPLE))).item()
    assert isinstance(meta, SessionMeta)
    assert meta.cwd == "/home/dev/project"
    text = SAMPLE.read_text()
    assert "/tmp/" not in text
    assert "/root/" not in text
    assert "llmx-sample-" not in text


def _sandbox_missing() -> str | None:
    from llmx.sandbox.linux.backends import choose_backend
    from llmx.sandbox.plan import ConfinementPlan

    try:
        choose_backend(ConfinementPlan())
    except Exception as exc:
        return str(exc)
    return None


@pytest.mark.skipif(
    _sandbox_missing() is not None,
    reason=f"recording runs commands in the kernel sandbox, missing here: {_sandbox_missing()}",
)
def test_the_script_reproduces_the_sample(tmp_path: Path) -> None:
    target = tmp_path / "again.jsonl"
    subprocess.run([sys.executable, str(SCRIPT), str(target)], check=True, capture_output=True,
                   timeout=WAIT_SECONDS)
    assert _shape(target) == _shape(SAMPLE)


def test_the_script_run_by_an_interpreter_without_llmx_libraries_says_which_to_use(
    tmp_path: Path,
) -> None:
    # A fresh virtual environment without llmx's libraries, as a system python3 is.
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True,
                   timeout=WAIT_SECONDS)
    python = bare / "bin" / "python"
    done = subprocess.run([str(python), str(SCRIPT), str(tmp_path / "out.jsonl")],
                          capture_output=True, text=True, timeout=WAIT_SECONDS, check=False)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"record_sample: {python} cannot run llmx (")
    assert done.stderr.endswith("— run it with the checkout's interpreter: .venv/bin/python "
                                "examples/record_sample.py (scripts/bootstrap creates .venv)\n")
    assert not (tmp_path / "out.jsonl").exists()
