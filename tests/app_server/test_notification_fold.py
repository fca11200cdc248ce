"""The app-server notifications as a fold of rollouts Codex 0.169 wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.app_server_schema import FIXTURES, check_notification, check_server_request

from llmx.events.reader import read_rollout
from llmx.projections.app_server.messages import Notification, ServerRequest
from llmx.projections.app_server.notifications import fold_rollout

RICH = FIXTURES / "codex-rich"
ROLLOUTS = sorted((RICH / "rollouts").glob("*.rollout.jsonl")) + sorted(
    (FIXTURES / "codex" / "rollouts").glob("*.jsonl")
)
TRANSCRIPTS = RICH / "appserver-jsonrpc"


def wire(path: Path) -> list[dict[str, Any]]:
    _, messages = fold_rollout(read_rollout(path))
    out: list[dict[str, Any]] = []
    for number, message in enumerate(messages):
        if isinstance(message, Notification):
            out.append({"method": message.method, "params": message.params})
        elif isinstance(message, ServerRequest):
            out.append({"method": message.method, "id": number, "params": message.params})
    return out


@pytest.mark.parametrize("path", ROLLOUTS, ids=lambda p: p.name)
def test_every_folded_message_validates_against_codex_schema(path: Path) -> None:
    for message in wire(path):
        if "id" in message:
            check_server_request(message)
        else:
            check_notification(message)


def transcript(name: str) -> list[dict[str, Any]]:
    lines = (TRANSCRIPTS / f"{name}.jsonrpc.jsonl").read_text().splitlines()
    return [json.loads(line)["msg"] for line in lines
            if json.loads(line)["dir"] == "server->client"]


def _turn_items(messages: list[dict[str, Any]], method: str) -> list[dict[str, Any]]:
    return [m["params"]["item"] for m in messages if m.get("method") == method]


def _without_times(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items()
            if k not in ("startedAtMs", "completedAtMs", "durationMs", "processId", "source")}


@pytest.mark.parametrize("name", ["approval_untrusted_accept", "patch_approval_readonly_accept",
                                  "patch_approval_readonly_decline",
                                  "mcp_add_prompt_decline"])
def test_completed_items_equal_what_codex_sent(name: str) -> None:
    # Codex's rollout keeps the completed items; folded, they are what its server sent.
    folded = [_without_times(i) for i in _turn_items(wire(RICH / "rollouts" /
                                                          f"{name}.rollout.jsonl"),
                                                     "item/completed")]
    sent = [_without_times(i) for i in _turn_items(transcript(name), "item/completed")]
    assert folded == sent


def test_turn_lifecycle_is_codex_order() -> None:
    messages = wire(RICH / "rollouts" / "approval_untrusted_accept.rollout.jsonl")
    methods = [m["method"] for m in messages]
    assert methods[:2] == ["thread/status/changed", "turn/started"]
    assert methods[-3:] == ["thread/readState/changed", "thread/status/changed",
                            "turn/completed"]
    final = messages[-1]["params"]["turn"]
    assert final["status"] == "completed"
    assert final["itemsView"] == "summary"
    assert [i["text"] for i in final["items"]] == ["Created approved_accept.txt."]
    usage = [m for m in messages if m["method"] == "thread/tokenUsage/updated"]
    assert usage[-1]["params"]["tokenUsage"]["total"]["totalTokens"] == 220


def test_interrupted_turn_completes_interrupted() -> None:
    messages = wire(RICH / "rollouts" / "interrupt_mid_command.rollout.jsonl")
    ends = [m["params"]["turn"] for m in messages if m["method"] == "turn/completed"]
    assert [t["status"] for t in ends] == ["interrupted", "completed"]
    assert ends[0]["items"] == []
    assert ends[0]["itemsView"] == "notLoaded"
