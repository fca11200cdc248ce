"""Replay equals live: random sessions written to a real rollout file replay to the same
output as rendering the same events directly, in memory, as ``exec`` does live."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from projections.exec_replay_support import run_replay

from llmx.events.event_msgs import (
    AgentMessage,
    AgentReasoning,
    ExecCommandBegin,
    ExecCommandEnd,
    TaskComplete,
    TaskStarted,
    TokenCount,
    TokenUsageInfo,
    TurnAborted,
    UserMessage,
    WarningEvent,
)
from llmx.events.lines import RolloutLine, encode_line
from llmx.events.primitives import TokenUsage
from llmx.events.records import SessionMeta
from llmx.projections.exec.human import HumanExecProjection, Stream, render_plain
from llmx.projections.exec.json_events import JsonExecProjection, encode_event

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
argv = st.lists(text, min_size=1, max_size=3)


@st.composite
def turn(draw: st.DrawFn, index: int) -> list[Any]:
    events: list[Any] = [TaskStarted(turn_id=f"t{index}"), UserMessage(message=draw(text))]
    for step in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["say", "think", "run", "warn"]))
        if kind == "say":
            events.append(AgentMessage(message=draw(text)))
        elif kind == "think":
            events.append(AgentReasoning(text=draw(text)))
        elif kind == "warn":
            events.append(WarningEvent(message=draw(text)))
        else:
            call, command = f"c{index}_{step}", draw(argv)
            events.append(ExecCommandBegin(call_id=call, command=command, cwd="/w"))
            events.append(
                ExecCommandEnd(
                    call_id=call, command=command, cwd="/w",
                    exit_code=draw(st.integers(-1, 3)), aggregated_output=draw(text),
                )
            )
    used = TokenUsage(input_tokens=draw(st.integers(0, 10**6)), output_tokens=7)
    events.append(TokenCount(info=TokenUsageInfo(total_token_usage=used, last_token_usage=used)))
    if draw(st.booleans()):
        events.append(TaskComplete(turn_id=f"t{index}"))
    else:
        events.append(TurnAborted(reason="interrupted", turn_id=f"t{index}"))
    return events


@st.composite
def session(draw: st.DrawFn) -> list[RolloutLine]:
    payloads: list[Any] = [SessionMeta(id="01a1fc90-0000-7000-8000-000000000001", cwd="/w")]
    for index in range(draw(st.integers(1, 3))):
        payloads.extend(draw(turn(index)))
    return [RolloutLine.create(p, ordinal=i) for i, p in enumerate(payloads)]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=session())
def test_replayed_file_renders_like_the_live_events(
    tmp_path: Path, lines: list[RolloutLine]
) -> None:
    path = tmp_path / "rollout.jsonl"
    with path.open("wb") as file:
        file.write(b"".join(encode_line(line) for line in lines))
        file.flush()
        os.fsync(file.fileno())

    human, json_out = HumanExecProjection(), JsonExecProjection()
    records, events = [], []
    for line in lines:
        records += human.feed_line(line)
        events += json_out.feed_line(line)
    records += human.finish()
    events += json_out.finish()

    _, out, err = run_replay(path)
    assert err == render_plain(records, Stream.STDERR)
    assert out == render_plain(records, Stream.FINAL)
    _, jsonl, _ = run_replay(path, as_json=True)
    assert jsonl == "".join(encode_event(e) for e in events)
    starts = sum(1 for line in lines if line.payload_type == "task_started")
    assert jsonl.count('"type":"turn.started"') == starts
