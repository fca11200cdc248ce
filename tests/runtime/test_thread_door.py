"""The thread door's contract, with real parts: a loopback model server, real rollout
files, the real session index; nothing of llmx is replaced.

Open, submit, subscribe, close; approvals answered through the stream; resume by id,
path and "last"; two threads at once; interrupts; forks.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import WAIT_SECONDS, within

from llmx.events.lines import RolloutLine
from llmx.events.ops import Compact, ExecApproval, Interrupt, PatchApproval
from llmx.events.primitives import TextInput
from llmx.events.records import Approver
from llmx.projections.turns import SUMMARY_PREFIX
from llmx.runtime import (
    AgentThread,
    ThreadError,
    ThreadEvents,
    ThreadManager,
    ThreadOptions,
    ThreadRef,
)

KEY_ENV = "LLMX_DOOR_TEST_KEY"


def _config(home: Path, server: ModelServer, extra: str = "", model: str = "mock-model") -> None:
    home.mkdir(mode=0o700, exist_ok=True)
    (home / "config.toml").write_text(
        f'model = "{model}"\nmodel_provider = "mock"\n'
        "[model_providers.mock]\n"
        f'name = "mock"\nbase_url = "{server.base_url}"\nenv_key = "{KEY_ENV}"\n'
        f"request_max_retries = 0\nstream_max_retries = 0\n{extra}"
    )


def _workspace(tmp_path: Path, name: str = "project") -> Path:
    workspace = tmp_path / name
    workspace.mkdir()
    subprocess.run(["git", "init", "-q", str(workspace)], check=True, timeout=WAIT_SECONDS)
    return workspace


def _manager(home: Path) -> ThreadManager:
    return ThreadManager(home, model_env={KEY_ENV: "dummy"})


def _file_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def _types(lines: list[RolloutLine]) -> list[str]:
    return [f"{line.type}:{line.payload_type}" for line in lines]


async def _collect(events: ThreadEvents) -> list[RolloutLine]:
    return [line async for line in events]


async def _turn(thread: AgentThread, text: str) -> None:
    await thread.submit(thread.user_turn([TextInput(text=text)]))


async def _asking_thread(
    manager: ThreadManager, workspace: Path, prompt: str
) -> tuple[AgentThread, ThreadEvents]:
    """A read-only thread that asks before anything else, subscribed, its turn started."""
    thread = await manager.open(ThreadOptions(
        cwd=workspace, sandbox_mode="read-only", approval_policy="on-request"))
    events = thread.subscribe()
    await _turn(thread, prompt)
    return thread, events


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.mark.asyncio
async def test_open_submit_subscribe_close_streams_what_the_file_holds(
    tmp_path: Path, home: Path
) -> None:
    script = {"turns": [[{"type": "message", "text": "first"}],
                        [{"type": "message", "text": "second"}]]}
    with ModelServer(Script.from_json(script)) as server:
        _config(home, server)
        async with _manager(home) as manager:
            thread = await manager.open(ThreadOptions(cwd=_workspace(tmp_path)))
            assert manager.threads == [thread]
            assert thread.rollout_path is None or not thread.rollout_path.exists()
            events = thread.subscribe()
            reader = asyncio.create_task(_collect(events))
            await _turn(thread, "one")
            await _turn(thread, "two")
            await within(thread.close(), "the thread to close")
            lines = await within(reader, "the subscription to end")
            assert manager.threads == []
            assert thread.outcome.last_agent_message == "second"
            assert not thread.outcome.failed
            assert not thread.outcome.aborted
        with pytest.raises(ThreadError, match="closed"):
            await _turn(thread, "three")
    path = thread.rollout_path
    assert path is not None
    # Every recorded line reached the subscriber, in the file's order; the deltas (not
    # recorded) came live only.
    recorded = [line.raw for line in lines if line.ordinal is not None]
    assert recorded == _file_lines(path)
    assert [line.ordinal for line in lines if line.ordinal is not None] == list(
        range(len(recorded)))
    assert _types(lines).count("event_msg:task_complete") == 2
    assert len(server.model_requests()) == 2


@pytest.mark.asyncio
async def test_an_approval_is_answered_through_the_stream_and_logged_before_it_acts(
    tmp_path: Path, home: Path
) -> None:
    patch = "*** Begin Patch\n*** Add File: approved.txt\n+yes\n*** End Patch"
    script = {"turns": [[{"type": "custom_tool_call", "name": "apply_patch", "input": patch}],
                        [{"type": "message", "text": "patched"}]]}
    workspace = _workspace(tmp_path)
    with ModelServer(Script.from_json(script)) as server:
        # A model Codex's catalog gives apply_patch.
        _config(home, server, model="gpt-5.5")
        async with _manager(home) as manager:
            thread, events = await _asking_thread(manager, workspace, "patch it")
            async for line in events:
                request = thread.approval_request(line)
                if request is not None:
                    # Nothing was written while the turn waits for the answer.
                    assert not (workspace / "approved.txt").exists()
                    await thread.submit(PatchApproval(id=request.call_id, decision="approved"),
                                        decided_by=Approver.USER)
                if line.payload_type == "task_complete":
                    break
            await within(thread.close(), "the thread to close")
    assert (workspace / "approved.txt").read_text() == "yes\n"
    path = thread.rollout_path
    assert path is not None
    records = [json.loads(raw) for raw in _file_lines(path)]
    kinds = [f"{r['type']}:{r['payload'].get('type')}" for r in records]
    request_at = kinds.index("event_msg:apply_patch_approval_request")
    [decision_at] = [i for i, r in enumerate(records) if r["type"] == "submission"
                     and r["payload"]["op"]["type"] == "patch_approval"]
    [applied_at] = [i for i, r in enumerate(records) if kinds[i] == "event_msg:item_completed"
                    and r["payload"]["item"]["type"] == "FileChange"]
    assert request_at < decision_at < applied_at
    assert records[decision_at]["payload"]["decided_by"] == "user"
    assert records[decision_at]["payload"]["op"]["decision"] == "approved"
    assert records[applied_at]["payload"]["item"]["status"] == "completed"


@pytest.mark.asyncio
async def test_an_unanswered_request_waits_and_a_denial_refuses(
    tmp_path: Path, home: Path
) -> None:
    script = {"turns": [[{"type": "shell", "command": "touch made.txt",
                          "sandbox_permissions": "require_escalated",
                          "justification": "needs it"}],
                        [{"type": "message", "text": "ok"}]]}
    workspace = _workspace(tmp_path)
    with ModelServer(Script.from_json(script)) as server:
        _config(home, server)
        async with _manager(home) as manager:
            thread, events = await _asking_thread(manager, workspace, "make it")
            async for line in events:
                request = thread.approval_request(line)
                if request is not None:
                    assert isinstance(request.command, list)
                    assert thread.turn_running
                    await thread.submit(ExecApproval(id=request.call_id, decision="denied"))
                    break
            await within(thread.close(), "the thread to close")
            await events.aclose()
    assert not (workspace / "made.txt").exists()
    assert thread.outcome.last_agent_message == "ok"


@pytest.mark.asyncio
async def test_resume_by_id_path_and_last_appends_and_sends_the_history(
    tmp_path: Path, home: Path
) -> None:
    script = {"turns": [], "fallback": [{"type": "message", "text": "noted"}]}
    workspace = _workspace(tmp_path)
    elsewhere = _workspace(tmp_path, "elsewhere")
    with ModelServer(Script.from_json(script)) as server:
        _config(home, server)
        options = ThreadOptions(cwd=workspace)
        async with _manager(home) as manager:
            first = await manager.open(options)
            await _turn(first, "remember 41")
            await within(first.close(), "the first thread to close")
            path = first.rollout_path
            assert path is not None
            refs = [ThreadRef.by_id(first.thread_id), ThreadRef.by_id(first.thread_id[:13]),
                    ThreadRef.by_path(path), ThreadRef.last()]
            for number, ref in enumerate(refs):
                thread = await manager.resume(ref, options)
                assert thread.thread_id == first.thread_id
                assert thread.rollout_path == path
                assert thread.meta_line is not None
                assert thread.meta_line.type == "session_meta"
                await _turn(thread, f"resumed {number}")
                await within(thread.close(), "the resumed thread to close")
            # "last" is of the thread's directory unless any directory is asked for.
            with pytest.raises(ThreadError, match="no recorded session"):
                await manager.resume(ThreadRef.last(), ThreadOptions(cwd=elsewhere))
            again = await manager.resume(ThreadRef.last(any_cwd=True),
                                         ThreadOptions(cwd=elsewhere))
            assert again.thread_id == first.thread_id
            await again.close()
            with pytest.raises(ThreadError, match="no session"):
                await manager.resume(ThreadRef.by_id("0" * 8 + "-0000-7000-8000-" + "0" * 12),
                                     options)
        requests = server.model_requests()
    assert len(requests) == 1 + len(refs)
    texts = json.dumps(requests[-1].body["input"])
    # The last request carries every earlier turn of the thread.
    assert "remember 41" in texts
    assert all(f"resumed {number}" in texts for number in range(len(refs)))
    ordinals = [json.loads(raw)["ordinal"] for raw in _file_lines(path)]
    assert ordinals == list(range(len(ordinals)))
    assert len(sorted((home / "sessions").rglob("rollout-*.jsonl"))) == 1


@pytest.mark.asyncio
async def test_a_thread_open_here_is_not_resumed_twice(tmp_path: Path, home: Path) -> None:
    script = {"turns": [], "fallback": [{"type": "message", "text": "ok"}]}
    with ModelServer(Script.from_json(script)) as server:
        _config(home, server)
        options = ThreadOptions(cwd=_workspace(tmp_path))
        async with _manager(home) as manager:
            thread = await manager.open(options)
            events = thread.subscribe()
            await _turn(thread, "hello")
            async for line in events:
                if line.payload_type == "task_complete":
                    break
            await events.aclose()
            with pytest.raises(ThreadError, match="already open"):
                await manager.resume(ThreadRef.by_id(thread.thread_id), options)


@pytest.mark.asyncio
async def test_two_threads_at_once_each_write_their_own_rollout(
    tmp_path: Path, home: Path
) -> None:
    # Slow streams, so the two turns overlap in time.
    slow = {"items": [{"type": "message", "text": "slow answer"}], "chunk_delay": 0.02}
    script = {"turns": [], "fallback": slow}
    with ModelServer(Script.from_json(script)) as server:
        _config(home, server)
        async with _manager(home) as manager:
            one = await manager.open(ThreadOptions(cwd=_workspace(tmp_path, "one")))
            two = await manager.open(ThreadOptions(cwd=_workspace(tmp_path, "two")))
            streams = [one.subscribe(), two.subscribe()]
            readers = [asyncio.create_task(_collect(s)) for s in streams]
            await asyncio.gather(_turn(one, "first thread"), _turn(two, "second thread"))
            await within(asyncio.gather(one.close(), two.close()), "both threads to close")
            results = await within(asyncio.gather(*readers), "both subscriptions to end")
    assert one.rollout_path != two.rollout_path
    for thread, lines in zip((one, two), results, strict=True):
        path = thread.rollout_path
        assert path is not None
        assert [line.raw for line in lines if line.ordinal is not None] == _file_lines(path)
        text = path.read_text()
        assert thread.thread_id in text
        other = two if thread is one else one
        assert other.thread_id not in text


@pytest.mark.asyncio
async def test_interrupt_ends_the_running_turn_as_aborted(tmp_path: Path, home: Path) -> None:
    script = {"turns": [[{"type": "shell", "command": "sleep 30"}]],
              "fallback": [{"type": "message", "text": "never sent"}]}
    with ModelServer(Script.from_json(script)) as server:
        _config(home, server)
        async with _manager(home) as manager:
            thread = await manager.open(ThreadOptions(cwd=_workspace(tmp_path),
                                                      sandbox_mode="danger-full-access"))
            events = thread.subscribe()
            await _turn(thread, "run it")
            async for line in events:
                if line.payload_type == "item_started":
                    await thread.submit(Interrupt())
                if line.payload_type == "turn_aborted":
                    break
            await within(thread.close(), "the thread to close")
            await events.aclose()
        assert len(server.model_requests()) == 1
    assert thread.outcome.aborted
    path = thread.rollout_path
    assert path is not None
    ops = [json.loads(raw)["payload"]["op"]["type"] for raw in _file_lines(path)
           if json.loads(raw)["type"] == "submission"]
    assert "interrupt" in ops


async def _read_all(events: ThreadEvents, *, pause: float = 0.0) -> list[RolloutLine]:
    lines = []
    async for line in events:
        lines.append(line)
        if pause:
            await asyncio.sleep(pause)  # a slow reader: it falls behind the live log
    return lines


async def _subscribe_when(thread: AgentThread, position: int, *, start: int | None,
                          capacity: int | None = None, pause: float = 0.0
                          ) -> list[RolloutLine]:
    """Subscribe once the thread has published ``position`` lines (from ``start``)."""
    watcher = thread.subscribe()
    if position:
        async for line in watcher:
            if line.ordinal is not None and line.ordinal + 1 >= position:
                break
    await watcher.aclose()
    return await _read_all(thread.subscribe(from_position=start, capacity=capacity),
                           pause=pause)


@pytest.mark.asyncio
async def test_subscribers_from_any_position_see_the_file_without_gap_or_duplicate(
    tmp_path: Path, home: Path
) -> None:
    # Many lines, written over a while: subscribers join while the thread writes.
    many = {"items": [{"type": "message", "text": f"part {n}"} for n in range(80)],
            "chunk_delay": 0.001}
    script = {"turns": [many, many]}
    with ModelServer(Script.from_json(script)) as server:
        # An fsync after every batch: a line is in the file for a while (the fsync runs
        # off the event loop) before it is published, which is when a subscriber that
        # joins would see it twice without the handoff's check.
        _config(home, server, '[rollout]\nfsync = "always"\n')
        async with _manager(home) as manager:
            thread = await manager.open(ThreadOptions(cwd=_workspace(tmp_path)))
            live = asyncio.create_task(_read_all(thread.subscribe()))
            joiners = {
                # (joins once this many lines exist, reads from) -> its lines
                (0, 0): _subscribe_when(thread, 0, start=0),
                (60, 0): _subscribe_when(thread, 60, start=0),
                (120, 50): _subscribe_when(thread, 120, start=50),
                (200, 150): _subscribe_when(thread, 200, start=150),
                (250, None): _subscribe_when(thread, 250, start=None),
                # Two lines of room and a slow reader: it lags, and catches up from the file.
                (40, 10): _subscribe_when(thread, 40, start=10, capacity=2, pause=0.002),
            }
            tasks = {key: asyncio.create_task(coro) for key, coro in joiners.items()}
            await _turn(thread, "first")
            await _turn(thread, "second")
            await within(thread.close(), "the thread to close")
            results = await within(asyncio.gather(live, *tasks.values()),
                                   "every subscription to end")
    path = thread.rollout_path
    assert path is not None
    on_disk = _file_lines(path)
    assert len(on_disk) > 300
    by_ordinal = {json.loads(raw)["ordinal"]: raw for raw in on_disk}
    assert list(by_ordinal) == list(range(len(on_disk)))
    for (joined_at, start), lines in zip([(0, 0), *tasks], results, strict=True):
        recorded = [line for line in lines if line.ordinal is not None]
        first = recorded[0].ordinal
        assert first is not None
        if start is not None:
            assert first == start, (joined_at, start)
        else:
            assert first >= joined_at
        # Every recorded line from there to the end, once, in the file's order.
        assert [line.raw for line in recorded] == on_disk[first:], (joined_at, start)


@pytest.mark.asyncio
async def test_fork_continues_the_parent_history_in_a_new_file_without_copying_it(
    tmp_path: Path, home: Path
) -> None:
    script = {"turns": [], "fallback": [{"type": "message", "text": "noted"}]}
    workspace = _workspace(tmp_path)
    with ModelServer(Script.from_json(script)) as server:
        _config(home, server)
        options = ThreadOptions(cwd=workspace)
        async with _manager(home) as manager:
            parent = await manager.open(options)
            await _turn(parent, "remember 41")
            # A parent running a turn is not forked; one between turns is.
            with pytest.raises(ThreadError, match="running a turn"):
                await manager.fork(ThreadRef.by_id(parent.thread_id), options)
            await within(parent.close(), "the parent to close")
            parent_path = parent.rollout_path
            assert parent_path is not None
            parent_bytes = parent_path.read_bytes()
            fork = await manager.fork(ThreadRef.by_id(parent.thread_id), options)
            assert fork.thread_id != parent.thread_id
            fork_path = fork.rollout_path
            assert fork_path is not None
            # Written at once, as Codex does.
            meta = json.loads(_file_lines(fork_path)[0])
            await _turn(fork, "and in the fork")
            await within(fork.close(), "the fork to close")
            everything = await within(_read_all(fork.subscribe(from_position=0)),
                                      "the fork's history")
            resumed = await manager.resume(ThreadRef.by_id(fork.thread_id), options)
            await _turn(resumed, "after resuming the fork")
            await within(resumed.close(), "the resumed fork to close")
        requests = server.model_requests()
    assert parent_path.read_bytes() == parent_bytes
    assert meta["type"] == "session_meta"
    payload = meta["payload"]
    parent_lines = parent_bytes.splitlines()
    assert payload["forked_from_id"] == parent.thread_id
    assert payload["history_base"] == {
        "thread_id": parent.thread_id, "end_ordinal_exclusive": len(parent_lines),
        "end_byte_offset": len(parent_bytes)}
    assert meta["ordinal"] == len(parent_lines)
    # Nothing of the parent is copied into the fork's file.
    fork_lines = _file_lines(fork_path)
    assert not any(b"remember 41" in raw for raw in fork_lines)
    # The fork's first request carries the parent's turn; its history from position 0 is
    # the parent's lines, then its own, with one run of ordinals.
    assert "remember 41" in json.dumps(requests[1].body["input"])
    recorded = [line.raw for line in everything if line.ordinal is not None]
    assert recorded == parent_lines + _file_lines(fork_path)[: len(recorded) - len(parent_lines)]
    assert [line.ordinal for line in everything if line.ordinal is not None] == list(
        range(len(recorded)))
    last = json.dumps(requests[-1].body["input"])
    assert "remember 41" in last
    assert "and in the fork" in last


def _input_texts(request_body: dict[str, object]) -> list[str]:
    texts = []
    for item in request_body["input"]:  # type: ignore[attr-defined]
        for part in item.get("content") or ():
            if isinstance(part, dict) and "text" in part:
                texts.append(f"{item.get('role')}: {part['text']}")
    return texts


@pytest.mark.asyncio
async def test_compact_replaces_the_history_with_a_summary_that_resume_keeps(
    tmp_path: Path, home: Path
) -> None:
    script = {"turns": [
        {"match": "CONTEXT CHECKPOINT",
         "items": [{"type": "message", "text": "SUMMARY: the user counted one, two"}]},
    ], "fallback": [{"type": "message", "text": "ok"}]}
    workspace = _workspace(tmp_path)
    options = ThreadOptions(cwd=workspace)
    with ModelServer(Script.from_json(script)) as server:
        _config(home, server)
        async with _manager(home) as manager:
            thread = await manager.open(options)
            events = thread.subscribe()
            await _turn(thread, "one")
            await _turn(thread, "two")
            await thread.submit(Compact())
            await _turn(thread, "three")
            await within(thread.close(), "the thread to close")
            lines = await within(_read_all(events), "the subscription to end")
            resumed = await manager.resume(ThreadRef.by_id(thread.thread_id), options)
            await _turn(resumed, "four")
            await within(resumed.close(), "the resumed thread to close")
        requests = [request.body for request in server.model_requests()]
    compaction, after, after_resume = requests[2], requests[3], requests[4]
    asked = _input_texts(compaction)
    assert asked[-1].startswith("user: You are performing a CONTEXT CHECKPOINT COMPACTION")
    assert "user: one" in asked
    assert "assistant: ok" in asked
    summary = f"user: {SUMMARY_PREFIX}\nSUMMARY: the user counted one, two"
    # After it: the instructions, the environment, the user's messages and the summary;
    # none of the answers before it.
    told = _input_texts(after)
    assert told[0].startswith("developer: ")
    assert any(text.startswith("user: <environment_context>") for text in told)
    assert told[-4:] == ["user: one", "user: two", summary, "user: three"]
    assert "assistant: ok" not in told[:-1]
    # A resume starts from the compacted history, then what came after it.
    resumed_told = _input_texts(after_resume)
    assert resumed_told[resumed_told.index(summary) - 2:] == [
        "user: one", "user: two", summary, "user: three", "assistant: ok", "user: four"]
    assert "user: " + SUMMARY_PREFIX not in " ".join(told[:-4])
    kinds = _types([line for line in lines if line.ordinal is not None])
    assert kinds.count("compacted:None") == 1
    path = thread.rollout_path
    assert path is not None
    [compacted] = [json.loads(raw)["payload"] for raw in _file_lines(path)
                   if json.loads(raw)["type"] == "compacted"]
    assert compacted["message"] == ""
    assert [item["content"][0]["text"] for item in compacted["replacement_history"]][-3:] == [
        "one", "two", summary.removeprefix("user: ")]
    items = [json.loads(raw)["payload"].get("item", {}).get("type") for raw in _file_lines(path)
             if json.loads(raw)["payload"].get("type") in ("item_started", "item_completed")]
    assert items.count("ContextCompaction") == 2


@pytest.mark.asyncio
async def test_a_compaction_that_fails_leaves_the_history_as_it_was(
    tmp_path: Path, home: Path
) -> None:
    """The summary request fails (the server answers 500, no retry left): the next turn
    sends the history the thread had, the file has no ``compacted`` line, and a resume
    sends the same."""
    script = {"turns": [
        {"match": "CONTEXT CHECKPOINT", "status": 500, "error": "summariser down"},
    ], "fallback": [{"type": "message", "text": "ok"}]}
    workspace = _workspace(tmp_path)
    options = ThreadOptions(cwd=workspace)
    with ModelServer(Script.from_json(script)) as server:
        _config(home, server)
        async with _manager(home) as manager:
            thread = await manager.open(options)
            await _turn(thread, "one")
            await thread.submit(Compact())
            await _turn(thread, "two")
            await within(thread.close(), "the thread to close")
            resumed = await manager.resume(ThreadRef.by_id(thread.thread_id), options)
            await _turn(resumed, "three")
            await within(resumed.close(), "the resumed thread to close")
        requests = [request.body for request in server.model_requests()]
    first, failed, after, after_resume = requests
    assert _input_texts(failed)[-1].startswith("user: You are performing a CONTEXT")
    # Everything the first turn sent and got, then the new prompt: nothing summarised.
    assert _input_texts(after) == [*_input_texts(first), "assistant: ok", "user: two"]
    assert _input_texts(after_resume) == [*_input_texts(after), "assistant: ok",
                                          "user: three"]
    path = thread.rollout_path
    assert path is not None
    records = [json.loads(raw) for raw in _file_lines(path)]
    assert not [r for r in records if r["type"] == "compacted"]
    ends = [r["payload"] for r in records if r["payload"].get("type") == "task_complete"]
    assert "summariser down" in ends[1]["error"]["message"]


@pytest.mark.asyncio
async def test_an_ephemeral_thread_writes_nothing_and_keeps_no_past_to_read(
    tmp_path: Path, home: Path
) -> None:
    script = {"turns": [], "fallback": [{"type": "message", "text": "ok"}]}
    with ModelServer(Script.from_json(script)) as server:
        _config(home, server)
        async with _manager(home) as manager:
            thread = await manager.open(ThreadOptions(cwd=_workspace(tmp_path), ephemeral=True))
            assert thread.rollout_path is None
            # Before its first turn, a subscription from the start misses nothing.
            early = thread.subscribe(from_position=0)
            await _turn(thread, "hello")
            seen = []
            async for line in early:
                seen.append(line)
                if line.payload_type == "task_complete":
                    break
            await early.aclose()
            assert seen[0].type == "session_meta"
            assert [line.ordinal for line in seen if line.ordinal is not None] == list(
                range(len([line for line in seen if line.ordinal is not None])))
            with pytest.raises(ThreadError, match="ephemeral"):
                thread.subscribe(from_position=0)
            await within(thread.close(), "the thread to close")
    assert not (home / "sessions").exists()
    assert not (home / "history.jsonl").exists()
