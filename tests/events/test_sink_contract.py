"""One contract for every rollout sink: a factory per sink, the same tests for each.

The ephemeral sink must behave exactly like the file sink towards the writer and its
subscribers, and write nothing at all.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from llmx.events.event_log import EventLog, RolloutOptions
from llmx.events.event_msgs import AgentMessageDelta, ExecCommandEnd, TaskComplete, TaskStarted
from llmx.events.ids import new_thread_id
from llmx.events.ops import UserInputOp
from llmx.events.primitives import TextInput
from llmx.events.reader import read_rollout
from llmx.events.records import SessionMeta, SubmissionRecord
from llmx.events.subscribers import SubscriberLagged


@dataclass
class SinkCase:
    name: str
    make: Callable[[Path, RolloutOptions], EventLog]
    persists: bool


def _meta() -> SessionMeta:
    return SessionMeta(id=new_thread_id(), cwd="/w", originator="llmx_test", cli_version="0")


pytestmark = pytest.mark.asyncio

CASES = [
    SinkCase(
        "file",
        lambda home, options: EventLog.for_new_thread(home, _meta(), options=options),
        persists=True,
    ),
    SinkCase(
        "ephemeral",
        lambda home, options: EventLog.for_new_thread(
            home, _meta(), ephemeral=True, options=options
        ),
        persists=False,
    ),
]


@pytest.fixture(params=CASES, ids=lambda case: case.name)
def case(request: pytest.FixtureRequest) -> SinkCase:
    param: SinkCase = request.param
    return param


def _user_input(text: str = "hello", sid: str = "1") -> SubmissionRecord:
    return SubmissionRecord(id=sid, op=UserInputOp(items=[TextInput(text=text)]))


def _files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


async def test_lazy_until_the_first_user_input(case: SinkCase, tmp_path: Path) -> None:
    log = case.make(tmp_path, RolloutOptions())
    before = await log.record(TaskStarted(turn_id="t"))
    assert not before.acknowledged
    assert not log.materialized
    assert _files_under(tmp_path) == []
    after = await log.record(_user_input())
    assert after.acknowledged
    assert log.materialized
    await log.close()
    files = _files_under(tmp_path)
    if case.persists:
        assert [p.name.endswith(".jsonl") for p in files] == [True]
    else:
        assert files == []


async def test_ordinals_and_order_reach_subscribers(case: SinkCase, tmp_path: Path) -> None:
    log = case.make(tmp_path, RolloutOptions())
    subscription = log.subscribe()
    await log.record(_user_input())
    await log.record(TaskStarted(turn_id="t"), AgentMessageDelta(delta="hi"))
    await log.record(TaskComplete(turn_id="t", last_agent_message="hi"))
    await log.close()
    received = [line async for line in subscription]
    assert [line.type for line in received] == [
        "session_meta",
        "submission",
        "event_msg",
        "event_msg",
        "event_msg",
    ]
    # Deltas are published but not persisted, so they carry no ordinal.
    assert [line.ordinal for line in received] == [0, 1, 2, None, 3]
    assert log.next_ordinal == 4
    if case.persists:
        assert log.path is not None
        on_disk = read_rollout(log.path)
        assert [line.raw for line in on_disk] == [
            line.raw for line in received if line.ordinal is not None
        ]
    else:
        assert log.path is None


async def test_persist_deltas_option(case: SinkCase, tmp_path: Path) -> None:
    log = case.make(tmp_path, RolloutOptions(persist_deltas=True))
    subscription = log.subscribe()
    await log.record(_user_input(), AgentMessageDelta(delta="a"))
    await log.close()
    assert [line.ordinal async for line in subscription] == [0, 1, 2]


async def test_slow_subscriber_is_dropped_and_told_where_it_was(
    case: SinkCase, tmp_path: Path
) -> None:
    log = case.make(tmp_path, RolloutOptions())
    slow = log.subscribe(capacity=3)
    fast = log.subscribe(capacity=100)
    await log.record(_user_input())  # meta + submission: 2 lines
    for index in range(5):
        await log.record(TaskStarted(turn_id=str(index)))
    await log.close()
    seen = [(await slow.get()).ordinal for _ in range(3)]
    with pytest.raises(SubscriberLagged) as lagged:
        await slow.get()
    assert seen == [0, 1, 2]
    assert lagged.value.last_ordinal == 2
    assert [line.ordinal async for line in fast] == list(range(7))


async def test_concurrent_writers_never_interleave_batches(case: SinkCase, tmp_path: Path) -> None:
    log = case.make(tmp_path, RolloutOptions())
    await log.record(_user_input())
    subscription = log.subscribe(capacity=10_000)

    async def writer(name: str) -> None:
        for index in range(50):
            turn = f"{name}{index}"
            await log.record(TaskStarted(turn_id=turn), TaskComplete(turn_id=turn))
            await asyncio.sleep(0)

    await asyncio.gather(*(writer(name) for name in "abcd"))
    await log.close()
    lines = [line async for line in subscription]
    turns = [line.item().turn_id for line in lines]  # type: ignore[union-attr]
    # Each batch (start, complete) is contiguous.
    assert all(turns[i] == turns[i + 1] for i in range(0, len(turns), 2))
    assert [line.ordinal for line in lines] == list(range(2, 402))


async def test_closed_log_refuses_records(case: SinkCase, tmp_path: Path) -> None:
    log = case.make(tmp_path, RolloutOptions())
    await log.record(_user_input())
    await log.close()
    await log.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        await log.record(TaskStarted())
    late = log.subscribe()
    assert [line async for line in late] == []


async def test_large_output_is_capped_the_same_way(case: SinkCase, tmp_path: Path) -> None:
    log = case.make(tmp_path, RolloutOptions(inline_output_limit=1000))
    subscription = log.subscribe()
    big = ExecCommandEnd(call_id="c", exit_code=0, aggregated_output="y" * 5000)
    await log.record(_user_input(), big)
    await log.close()
    lines = [line async for line in subscription]
    kinds = ["session_meta", "submission", "event_msg", "output_ref"]
    assert [line.type for line in lines] == kinds
    end = lines[2].item()
    assert isinstance(end, ExecCommandEnd)
    assert len(end.aggregated_output) < 1200
    blobs = [p for p in _files_under(tmp_path) if ".blobs" in str(p.parent)]
    assert len(blobs) == (1 if case.persists else 0)
    if not case.persists:
        assert _files_under(tmp_path) == []
    assert os.listdir(tmp_path) == ([] if not case.persists else ["sessions"])
