"""The file-backed writer: modes, resume, torn tails, redaction, stored outputs, fsync policy."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from llmx.events.event_log import EventLog, RolloutOptions
from llmx.events.event_msgs import ExecCommandEnd, TaskComplete, TaskStarted
from llmx.events.fsync_policy import FsyncPolicy
from llmx.events.ids import new_thread_id
from llmx.events.ops import ExecApproval, UserInputOp
from llmx.events.outputs import blob_path
from llmx.events.primitives import TextInput
from llmx.events.reader import RolloutReader, read_rollout
from llmx.events.records import (
    Approver,
    EscalationRecord,
    ExecutionMode,
    OutputRef,
    SessionMeta,
    SubmissionRecord,
)
from llmx.events.redact import Redactor
from llmx.events.response_items import FunctionCallOutput

pytestmark = pytest.mark.asyncio


def _meta() -> SessionMeta:
    return SessionMeta(id=new_thread_id(), cwd="/w", originator="llmx_test", cli_version="0")


def _user_input(text: str = "hello") -> SubmissionRecord:
    return SubmissionRecord(id="1", op=UserInputOp(items=[TextInput(text=text)]))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_files_are_0600_in_0700_folders_under_codex_layout(tmp_path: Path) -> None:
    home = tmp_path / "home"
    meta = _meta()
    log = EventLog.for_new_thread(home, meta, redactor=Redactor.disabled())
    big = ExecCommandEnd(call_id="c", exit_code=0, aggregated_output="z" * 70_000)
    await log.record(_user_input(), big)
    await log.close()
    path = log.path
    assert path is not None
    relative = path.relative_to(home)
    assert relative.parts[0] == "sessions"
    assert [len(part) for part in relative.parts[1:4]] == [4, 2, 2]
    assert relative.name.startswith("rollout-")
    assert relative.name.endswith(f"-{meta.id}.jsonl")
    assert _mode(path) == 0o600
    folders = [path.parent, *path.parent.parents]
    for folder in folders[: folders.index(tmp_path)]:
        assert _mode(folder) == 0o700, folder
    blobs = list((path.parent / path.name.replace(".jsonl", ".blobs")).iterdir())
    assert len(blobs) == 1
    assert _mode(blobs[0]) == 0o600
    assert _mode(blobs[0].parent) == 0o700


async def test_a_thread_without_user_input_leaves_no_file(tmp_path: Path) -> None:
    log = EventLog.for_new_thread(tmp_path, _meta())
    await log.record(TaskStarted(turn_id="t"))
    await log.close()
    assert os.listdir(tmp_path) == []


async def test_persist_materialises_meta_and_buffer_in_order(tmp_path: Path) -> None:
    log = EventLog.for_new_thread(tmp_path, _meta())
    await log.record(TaskStarted(turn_id="t"))
    await log.persist()
    await log.persist()
    assert log.path is not None
    lines = read_rollout(log.path)
    assert [(line.ordinal, line.type) for line in lines] == [(0, "session_meta"), (1, "event_msg")]
    await log.close()


async def test_resume_appends_without_meta_and_continues_ordinals(tmp_path: Path) -> None:
    log = EventLog.for_new_thread(tmp_path, _meta())
    await log.record(_user_input(), TaskComplete(turn_id="t1"))
    await log.close()
    assert log.path is not None
    resumed = EventLog.resume(log.path)
    assert resumed.next_ordinal == 3
    assert resumed.notices == []
    await resumed.record(_user_input("again"), TaskComplete(turn_id="t2"))
    await resumed.close()
    lines = read_rollout(log.path)
    assert [line.ordinal for line in lines] == [0, 1, 2, 3, 4]
    assert [line.type for line in lines].count("session_meta") == 1


async def test_resume_cuts_a_torn_tail_and_says_so(tmp_path: Path) -> None:
    log = EventLog.for_new_thread(tmp_path, _meta())
    await log.record(_user_input(), TaskComplete(turn_id="t1"))
    await log.close()
    assert log.path is not None
    with log.path.open("ab") as handle:
        handle.write(b'{"timestamp":"2026-01-01T00:00:00.000Z","ordinal":3,"type":"ev')
    resumed = EventLog.resume(log.path)
    assert resumed.next_ordinal == 3
    assert len(resumed.notices) == 1
    assert "cut a torn final line" in resumed.notices[0]
    await resumed.record(TaskStarted(turn_id="t2"))
    await resumed.close()
    reader = RolloutReader(log.path)
    assert [line.ordinal for line in reader] == [0, 1, 2, 3]
    assert reader.torn_tail is None
    assert reader.problems == []


async def test_ephemeral_resume_reads_but_never_writes(tmp_path: Path) -> None:
    log = EventLog.for_new_thread(tmp_path, _meta())
    await log.record(_user_input())
    await log.close()
    assert log.path is not None
    before = log.path.read_bytes()
    with log.path.open("ab") as handle:
        handle.write(b'{"torn')
    torn = log.path.read_bytes()
    ephemeral = EventLog.resume(log.path, ephemeral=True)
    await ephemeral.record(_user_input("more"), TaskComplete(turn_id="t"))
    await ephemeral.close()
    assert log.path.read_bytes() == torn != before
    assert ephemeral.path is None


async def test_secrets_are_redacted_before_disk(tmp_path: Path) -> None:
    redactor = Redactor.from_environment({"MY_API_KEY": "hunter2-very-secret", "HOME": "/home/dev"})
    log = EventLog.for_new_thread(tmp_path, _meta(), redactor=redactor)
    subscription = log.subscribe()
    token = "ghp_" + "A1b2" * 9
    await log.record(
        _user_input(f"use hunter2-very-secret and {token}"),
        FunctionCallOutput(call_id="c", output="AKIAIOSFODNN7EXAMPLE\n/home/dev stays"),
    )
    await log.close()
    assert log.path is not None
    data = log.path.read_bytes()
    assert b"hunter2-very-secret" not in data
    assert token.encode() not in data
    assert b"AKIAIOSFODNN7EXAMPLE" not in data
    assert data.count(b"[REDACTED]") == 3
    assert b"/home/dev stays" in data
    for line in data.splitlines():
        json.loads(line)
    # Subscribers see the persisted (redacted) lines: replay equals live.
    live = [line.raw async for line in subscription]
    assert live == data.splitlines()


async def test_capped_output_keeps_head_tail_and_full_bytes_once(tmp_path: Path) -> None:
    options = RolloutOptions(inline_output_limit=1024)
    log = EventLog.for_new_thread(tmp_path, _meta(), options=options, redactor=Redactor.disabled())
    output = "".join(f"line {n}\n" for n in range(5000))
    end = ExecCommandEnd(call_id="c1", exit_code=0, aggregated_output=output)
    await log.record(_user_input(), end)
    await log.record(FunctionCallOutput(call_id="c1", output=output))
    await log.close()
    assert log.path is not None
    lines = read_rollout(log.path)
    end = lines[2].item()
    assert isinstance(end, ExecCommandEnd)
    assert end.aggregated_output.startswith("line 0\n")
    assert end.aggregated_output.endswith("line 4999\n")
    digest = hashlib.sha256(output.encode()).hexdigest()
    assert f"sha256:{digest}" in end.aggregated_output
    refs = [line.item() for line in lines if line.type == "output_ref"]
    assert all(isinstance(ref, OutputRef) for ref in refs)
    assert [(r.call_id, r.sha256, r.size, r.field) for r in refs] == [  # type: ignore[union-attr]
        ("c1", digest, len(output), "aggregated_output"),
        ("c1", digest, len(output), "output"),
    ]
    assert refs[0].inline_size == len(end.aggregated_output.encode())  # type: ignore[union-attr]
    stored = blob_path(log.path, digest)
    assert stored.read_bytes() == output.encode()
    assert len(list(stored.parent.iterdir())) == 1


@pytest.mark.parametrize(
    ("fsync", "expected"),
    [
        (FsyncPolicy.ALWAYS, [True, True, True, True]),
        (FsyncPolicy.TURN, [False, True, True, True]),
        (FsyncPolicy.NEVER, [False, False, False, False]),
    ],
)
async def test_fsync_policy(tmp_path: Path, fsync: FsyncPolicy, expected: list[bool]) -> None:
    log = EventLog.for_new_thread(tmp_path, _meta(), options=RolloutOptions(fsync=fsync))
    decision = SubmissionRecord(id="2", op=ExecApproval(id="c", decision="approved"))
    escalation = EscalationRecord(
        call_id="c", mode=ExecutionMode.UNSANDBOXED, approved_by=Approver.USER
    )
    synced = [
        (await log.record(payload)).synced
        for payload in (_user_input(), decision, escalation, TaskComplete(turn_id="t"))
    ]
    await log.close()
    assert synced == expected


async def test_stored_outputs_are_redacted_and_named_by_their_digest(tmp_path: Path) -> None:
    redactor = Redactor(["correct-horse-battery"])
    options = RolloutOptions(inline_output_limit=512)
    log = EventLog.for_new_thread(tmp_path, _meta(), options=options, redactor=redactor)
    output = "x" * 2000 + " correct-horse-battery " + "y" * 2000
    await log.record(_user_input(), FunctionCallOutput(call_id="c", output=output))
    await log.close()
    assert log.path is not None
    refs = [line.item() for line in read_rollout(log.path) if line.type == "output_ref"]
    assert len(refs) == 1
    ref = refs[0]
    assert isinstance(ref, OutputRef)
    stored = blob_path(log.path, ref.sha256).read_bytes()
    assert b"correct-horse-battery" not in stored
    assert b"[REDACTED]" in stored
    assert hashlib.sha256(stored).hexdigest() == ref.sha256
    assert ref.size == len(stored)
