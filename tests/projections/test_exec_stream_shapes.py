"""The exec fold reads each payload as the schema's type, and older shapes by their own
Struct: E0's flat MCP invocation and bare token count, E0's ``exec_command_end`` without
``aggregated_output``. A payload that fits neither produces nothing, and the fold goes on."""

from __future__ import annotations

import json
from typing import Any

from llmx.events.lines import decode_line
from llmx.projections.exec import items as ei
from llmx.projections.exec.stream import ExecStream


def _fold(*payloads: dict[str, Any]) -> list[ei.ExecNotification]:
    stream = ExecStream()
    out: list[ei.ExecNotification] = []
    lines = [{"type": "session_meta", "payload": {"id": "t-1", "cwd": "/w"}}]
    lines += [{"type": "event_msg", "payload": payload} for payload in payloads]
    for number, line in enumerate(lines):
        raw = json.dumps({"timestamp": "2025-07-01T00:00:00Z", "ordinal": number, **line})
        out += stream.feed_line(decode_line(raw.encode()))
    return out + stream.finish()


def _completed(out: list[ei.ExecNotification]) -> list[ei.ExecItem]:
    return [note.item for note in out if isinstance(note, ei.ExecItemCompleted)]


def test_an_e0_mcp_call_with_its_invocation_flat_is_read() -> None:
    out = _fold(
        {"type": "task_started", "turn_id": "1"},
        {"type": "mcp_tool_call_begin", "call_id": "m1", "server": "docs", "tool": "find",
         "arguments": {"q": "x"}},
        {"type": "mcp_tool_call_end", "call_id": "m1", "server": "docs", "tool": "find",
         "arguments": {"q": "x"}, "duration": {"secs": 1, "nanos": 500_000_000},
         "result": {"Ok": {"content": [{"type": "text", "text": "found"}]}}},
        {"type": "task_complete", "turn_id": "1"},
    )
    started = [note.item for note in out if isinstance(note, ei.ExecItemStarted)]
    assert started == [ei.ExecMcpToolCallItem("m1", "docs", "find", {"q": "x"},
                                          ei.ItemStatus.IN_PROGRESS)]
    assert _completed(out) == [ei.ExecMcpToolCallItem(
        "m1", "docs", "find", {"q": "x"}, ei.ItemStatus.COMPLETED,
        {"content": [{"type": "text", "text": "found"}]}, None, 1500)]


def test_an_e0_token_count_as_a_bare_usage_object_is_read() -> None:
    out = _fold({"type": "token_count", "input_tokens": 10, "cached_input_tokens": 2,
                 "output_tokens": 5, "reasoning_output_tokens": 1, "total_tokens": 15})
    assert [note for note in out if isinstance(note, ei.UsageUpdated)] == [
        ei.UsageUpdated(10, 2, 0, 5, 1)]


def test_a_token_count_without_info_shows_no_usage() -> None:
    out = _fold({"type": "token_count", "info": None, "rate_limits": None})
    assert not [note for note in out if isinstance(note, ei.UsageUpdated)]


def test_an_e0_exec_end_shows_its_stdout_and_stderr() -> None:
    out = _fold(
        {"type": "exec_command_end", "call_id": "c1", "stdout": "out\n", "stderr": "err\n",
         "exit_code": 2},
    )
    (item,) = _completed(out)
    assert isinstance(item, ei.CommandItem)
    assert (item.aggregated_output, item.exit_code, item.status) == (
        "out\nerr\n", 2, ei.ItemStatus.FAILED)


def test_a_payload_of_no_known_shape_shows_nothing_and_the_fold_goes_on() -> None:
    out = _fold(
        {"type": "task_started", "turn_id": "1"},
        {"type": "agent_message", "message": 42},  # a known tag with a field of odd type
        {"type": "mcp_tool_call_begin", "call_id": "m1"},  # neither shape of the tag
        {"type": "agent_message_of_the_future", "message": "?"},  # an unknown tag
        {"type": "agent_message", "message": "still here"},
        {"type": "task_complete", "turn_id": "1", "last_agent_message": "still here"},
    )
    assert _completed(out) == [ei.ExecAgentMessageItem("", "still here")]
    assert isinstance(out[-1], ei.TurnEnded)
    assert out[-1].status is ei.ExecTurnStatus.COMPLETED
