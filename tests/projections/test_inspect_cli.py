"""``llmx inspect`` run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from projections.rollout_builder import install_rich_sessions
from support import CODEX_FIXTURES, CODEX_RICH_FIXTURES, PROJECT_ROOT

from llmx.projections.resume import fold_resume, prompt_input

RICH = CODEX_RICH_FIXTURES / "rollouts"
SAMPLE = PROJECT_ROOT / "examples" / "sample.rollout.jsonl"


def _llmx(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LLMX_HOME=str(home), COLUMNS="120")
    return subprocess.run(
        [sys.executable, "-m", "llmx", "inspect", *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )


def test_json_report(tmp_path: Path) -> None:
    result = _llmx(str(RICH / "approval_untrusted_decline.rollout.jsonl"), "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["thread_id"] == "01a1fc96-3765-7530-a591-fdd60e33aded"
    assert report["turns"][0]["approvals"][0]["decision"] == "denied"


def test_rendered_report_marks_inferred_entries(tmp_path: Path) -> None:
    result = _llmx(str(RICH / "escalation_ws_onrequest_decline.rollout.jsonl"), home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "escalations" in result.stdout
    assert "denied*" in result.stdout
    assert "inferred from outcomes" in result.stdout


def test_denied_filter_in_json(tmp_path: Path) -> None:
    result = _llmx(
        str(RICH / "readonly_denied_then_escalate_accept.rollout.jsonl"), "--json", "--denied",
        home=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    turns = json.loads(result.stdout)["turns"]
    assert [c["denied_by"] for c in turns[0]["commands"]] == ["sandbox"]


def test_history_is_the_resume_input(tmp_path: Path) -> None:
    rollout = CODEX_FIXTURES / "rollouts" / "exec_shell_workspace_write_echo.rollout.jsonl"
    result = _llmx(str(rollout), "--history", home=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["input"] == prompt_input(fold_resume(rollout).history)
    assert document["settings"]["model"] == "mock-model"


def test_history_of_a_fork_follows_its_parent_in_the_home(tmp_path: Path) -> None:
    placed = install_rich_sessions(
        tmp_path, "fork_and_revert__original", "fork_and_revert__full_fork"
    )
    result = _llmx(str(placed["fork_and_revert__full_fork"]), "--history", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["lineage"]) == 2


def test_session_id_is_resolved_in_the_home(tmp_path: Path) -> None:
    install_rich_sessions(tmp_path, "fork_and_revert__original")
    result = _llmx("01a1fc96-be8b", "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["thread_id"] == "01a1fc96-be8b-7441-95b1-9a5c3369fe94"


def test_bad_inputs_fail_with_one_line(tmp_path: Path) -> None:
    missing = _llmx(str(tmp_path / "missing.jsonl"), home=tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1
    assert "no such file" in missing.stderr
    orphan_fork = _llmx(str(RICH / "fork_and_revert__full_fork.rollout.jsonl"), "--history",
                        home=tmp_path)
    assert orphan_fork.returncode == 1
    assert orphan_fork.stderr.count("\n") == 1
    assert "01a1fc96-be8b-7441-95b1-9a5c3369fe94" in orphan_fork.stderr
    # What happened, then once what to do about it.
    assert orphan_fork.stderr.count(" — ") == 1
    assert orphan_fork.stderr.endswith(
        "whose rollout file was not found beside it or under the sessions folders — restore "
        "the parent's rollout beside the file or under $LLMX_HOME/sessions\n")
    unknown = _llmx("nosuchsession", home=tmp_path)
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("llmx inspect: ")


def test_piped_report_is_as_wide_as_columns_says(tmp_path: Path) -> None:
    def widest(columns: str | None) -> int:
        env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
        if columns is not None:
            env["COLUMNS"] = columns
        result = subprocess.run(
            [sys.executable, "-m", "llmx", "inspect", str(SAMPLE)],
            capture_output=True, text=True, env=env, timeout=60, check=True,
        )
        return max(len(line) for line in result.stdout.splitlines())

    assert widest("72") <= 72
    assert 72 < widest(None) <= 120
    assert widest("not a number") == widest(None)
