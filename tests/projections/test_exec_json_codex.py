"""Replayed ``--json`` agrees with what the real Codex ``exec --json`` printed live.

Differences that come from what Codex does not persist are removed from Codex's side
first (each is listed in docs/cli/replay.md): the model-metadata warning item, and the
``item.started`` of a command still running when the process was killed. Item ids are
renumbered after that, since the dropped items took numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from projections.exec_replay_support import run_replay
from support import CODEX_FIXTURES, CODEX_RICH_FIXTURES

# Codex exec --json output -> the rollout that run wrote (first exec block of the file).
PAIRS = {
    CODEX_FIXTURES / "exec-json/apply_patch_gpt55_json.jsonl": "exec_json_apply_patch_gpt55",
    CODEX_FIXTURES / "exec-json/exec_json.jsonl": "exec_json_say_hi",
    CODEX_FIXTURES / "exec-json/reasoning_json.jsonl": "exec_json_reasoning_then_message",
    CODEX_FIXTURES / "exec-json/server_error_400_json.jsonl": "exec_json_server_400_fail",
    CODEX_FIXTURES / "exec-json/shell_network_denied_json.jsonl": "exec_json_shell_network_denied",
    CODEX_FIXTURES / "exec-json/shell_readonly_denied_json.jsonl":
        "exec_json_shell_readonly_denied",
    CODEX_FIXTURES / "exec-json/shell_ws_write_json.jsonl":
        "exec_json_shell_workspace_write_then_resume_last_again",
    **{
        CODEX_RICH_FIXTURES / f"exec-json/{name}.jsonl": name
        for name in (
            "apply_patch_add_update_delete_json",
            "exec_background_poll_json",
            "exec_sigint_json",
            "mcp_add_flatname_json",
            "mcp_add_policy_never_json",
            "mcp_add_preapproved_json",
        )
    },
}
_METADATA_WARNING = "Model metadata for `"


def _rollout(live: Path, name: str) -> Path:
    return live.parent.parent / "rollouts" / f"{name}.rollout.jsonl"


def _not_persisted(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    completed = {e["item"]["id"] for e in events if e["type"] == "item.completed"}
    kept = []
    for event in events:
        item = event.get("item", {})
        if item.get("type") == "error" and item["message"].startswith(_METADATA_WARNING):
            continue
        if event["type"] == "item.started" and item["id"] not in completed:
            continue  # still running when the process was killed: never written
        kept.append(event)
    return kept


def _renumbered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids: dict[str, str] = {}
    for event in events:
        if "item" in event:
            raw = event["item"]["id"]
            event["item"]["id"] = ids.setdefault(raw, f"item_{len(ids)}")
    return events


def _first_run(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    starts = [i for i, e in enumerate(events) if e["type"] == "thread.started"]
    return events[: starts[1]] if len(starts) > 1 else events


@pytest.mark.parametrize("live", sorted(PAIRS), ids=lambda p: p.stem)
def test_replay_agrees_with_codex_exec_json(live: Path) -> None:
    codex = [json.loads(line) for line in live.read_text().splitlines()]
    code, out, _ = run_replay(_rollout(live, PAIRS[live]), as_json=True)
    assert code == 0
    ours = _first_run([json.loads(line) for line in out.splitlines()])
    assert _renumbered(ours) == _renumbered(_not_persisted(codex))


def test_every_codex_json_output_is_compared() -> None:
    outputs = {
        *CODEX_FIXTURES.glob("exec-json/*.jsonl"),
        *CODEX_RICH_FIXTURES.glob("exec-json/*.jsonl"),
    }
    assert outputs == set(PAIRS)
