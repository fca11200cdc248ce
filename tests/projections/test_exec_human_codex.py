"""Replayed human output agrees with what the real Codex ``exec`` printed live.

Removed from Codex's side before comparing (see docs/cli/replay.md): the stdin notice,
the model-metadata warning, tracing log lines, and git ``index`` lines of the turn diff
(an update's blob ids need the whole file, which the log does not hold; added and deleted
files' ids are checked in test_exec_human_diff.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from projections.exec_replay_support import run_replay
from support import CODEX_FIXTURES, CODEX_RICH_FIXTURES

# Codex human output -> (rollout, which exec run of that rollout: 0 = first).
PAIRS = {
    CODEX_FIXTURES / "human/exec_plain": (CODEX_FIXTURES, "exec_plain_say_hi", 0),
    CODEX_FIXTURES / "human/exec_plain_gpt55": (CODEX_FIXTURES, "exec_plain_say_hi_gpt55", 0),
    CODEX_FIXTURES / "human/shell_readonly_denied":
        (CODEX_FIXTURES, "exec_shell_readonly_denied", 0),
    CODEX_FIXTURES / "human/shell_ws_write":
        (CODEX_FIXTURES, "exec_shell_workspace_write_echo", 0),
    CODEX_FIXTURES / "human/exec_resume_last":
        (CODEX_FIXTURES, "exec_json_shell_workspace_write_then_resume_last_again", 1),
    CODEX_RICH_FIXTURES / "human/apply_patch_add_update_delete_human":
        (CODEX_RICH_FIXTURES, "apply_patch_add_update_delete_human", 0),
}
_NOT_PERSISTED = re.compile(
    r"^(Reading additional input from stdin\.\.\.|warning: Model metadata for `.*"
    r"|\d{4}-\d\d-\d\dT\S+Z +(ERROR|WARN|INFO|DEBUG) .*|index [0-9a-f]+\.\.[0-9a-f]+)$"
)


def _comparable(text: str) -> list[str]:
    return [line for line in text.split("\n") if not _NOT_PERSISTED.match(line)]


def _run(stderr: str, index: int) -> str:
    runs = re.split(r"(?m)^(?=OpenAI Codex v)", stderr)
    return [run for run in runs if run][index]


@pytest.mark.parametrize("live", sorted(PAIRS), ids=lambda p: p.name)
def test_replay_agrees_with_codex_human_output(live: Path) -> None:
    root, name, index = PAIRS[live]
    code, out, err = run_replay(root / "rollouts" / f"{name}.rollout.jsonl")
    assert code == 0
    codex_err = Path(f"{live}.stderr.txt").read_text()
    codex_out = Path(f"{live}.stdout.txt").read_text()
    assert _comparable(_run(err, index)) == _comparable(codex_err)
    assert out.splitlines()[index] == codex_out.rstrip("\n")
