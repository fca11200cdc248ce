"""Generate a large rollout by repeating the turns of a real Codex session.

Each copy of a turn gets fresh turn ids, call ids and item ids, and every line a running
``ordinal``, so the file looks like one long session. Optionally a compaction (``/compact``
as a task of its own, with a ``replacement_history``) is placed so that only the last
``compaction_tail_bytes`` of the file follow it.

Importable (``generate_rollout``) and a command:
    .venv/bin/python bench/gen_rollout.py OUT.jsonl --megabytes 100 [--compaction-tail-mb 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from llmx.events.home import rollout_path_for

ROOT = Path(__file__).resolve().parents[1]
# The Codex fixtures kept in the repository (tests/fixtures/README.md).
DEFAULT_SOURCE = (
    ROOT / "tests" / "fixtures" / "codex" / "rollouts"
    / "exec_json_shell_workspace_write_then_resume_last_again.rollout.jsonl"
)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CALL = re.compile(r"\b(call|fc|fco|msg|resp|ctc|ctco)_([0-9A-Za-z-]{8,})")


@dataclass(frozen=True, slots=True)
class GeneratedRollout:
    path: Path
    thread_id: str
    size: int
    lines: int
    turns: int
    compaction_offset: int | None
    """Byte offset of the ``compacted`` line, when one was written."""


def _turns(lines: list[dict[str, Any]]) -> tuple[dict[str, Any], list[list[dict[str, Any]]]]:
    """The session meta and the turns (``task_started`` .. ``task_complete``) of a rollout."""
    meta = lines[0]
    turns: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] | None = None
    for line in lines[1:]:
        payload = line.get("payload") or {}
        if line.get("type") == "event_msg" and payload.get("type") == "task_started":
            current = []
            turns.append(current)
        if current is not None:
            current.append(line)
    return meta, turns


def _fresh_ids(text: str, thread_id: str, old_thread: str) -> str:
    """Replace every id in ``text`` with a fresh one, consistently within the text."""
    mapping: dict[str, str] = {old_thread: thread_id}

    def new_uuid(match: re.Match[str]) -> str:
        old = match[0]
        if old not in mapping:
            mapping[old] = str(uuid.uuid4())
        return mapping[old]

    def new_call(match: re.Match[str]) -> str:
        old = match[0]
        if old not in mapping:
            mapping[old] = f"{match[1]}_{uuid.uuid4().hex[:24]}"
        return mapping[old]

    return _CALL.sub(new_call, _UUID.sub(new_uuid, text))


def _line(line: dict[str, Any], ordinal: int) -> bytes:
    line = dict(line, ordinal=ordinal)
    return (json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def _compaction(ordinal: int, thread_id: str) -> list[dict[str, Any]]:
    turn_id = str(uuid.uuid4())
    stamp = "2026-11-21T06:00:00.000Z"
    summary = {
        "type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "Summary of the work so far: " + "x" * 2000}],
    }
    return [
        {"timestamp": stamp, "type": "event_msg",
         "payload": {"type": "task_started", "turn_id": turn_id}},
        {"timestamp": stamp, "type": "compacted",
         "payload": {"message": "", "replacement_history": [summary]}},
        {"timestamp": stamp, "type": "event_msg",
         "payload": {"type": "task_complete", "turn_id": turn_id, "last_agent_message": None}},
    ]


def generate_rollout(
    target: Path,
    size_bytes: int,
    *,
    source: Path = DEFAULT_SOURCE,
    compaction_tail_bytes: int | None = None,
    cwd: Path | None = None,
) -> GeneratedRollout:
    """Write a rollout of about ``size_bytes`` to ``target`` (whole turns, so a bit more).

    ``cwd``: the folder the session is recorded in, instead of the source's (a TUI that
    resumes a session of another folder asks which one to use before it shows anything).
    """
    text = source.read_text(encoding="utf-8")
    if cwd is not None:
        recorded = json.loads(text.splitlines()[0])["payload"]["cwd"]
        text = text.replace(json.dumps(recorded)[1:-1], json.dumps(str(cwd))[1:-1])
    lines = [json.loads(line) for line in text.splitlines()]
    meta, turns = _turns(lines)
    if not turns:
        raise ValueError(f"{source} has no complete turn to repeat")
    old_thread = str(meta["payload"]["id"])
    thread_id = str(uuid.uuid4())
    meta = json.loads(json.dumps(meta).replace(old_thread, thread_id))
    templates = [json.dumps(turn) for turn in turns]
    compaction_at = None if compaction_tail_bytes is None else size_bytes - compaction_tail_bytes
    compaction_offset = None
    ordinal = 0
    copies = 0
    with target.open("wb") as out:
        out.write(_line(meta, ordinal))
        ordinal += 1
        written = out.tell()
        while written < size_bytes:
            if compaction_at is not None and compaction_offset is None and written >= compaction_at:
                for index, line in enumerate(_compaction(ordinal, thread_id)):
                    if index == 1:
                        compaction_offset = written
                    data = _line(line, ordinal)
                    out.write(data)
                    written += len(data)
                    ordinal += 1
            template = templates[copies % len(templates)]
            for line in json.loads(_fresh_ids(template, thread_id, old_thread)):
                data = _line(line, ordinal)
                out.write(data)
                written += len(data)
                ordinal += 1
            copies += 1
    return GeneratedRollout(target, thread_id, written, ordinal, copies, compaction_offset)


def write_small_sessions(home: Path, count: int, cwd_for: Callable[[int], str]) -> None:
    """``count`` small one-turn sessions in ``home``'s sessions tree, one a minute.

    Session ``i`` runs in ``cwd_for(i)``; each file is about 11 KB (a realistic
    ``session_meta`` with base instructions) and its mtime follows its start time.
    """
    epoch = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    base = datetime(2026, 3, 1, 9, 0, 0)
    instructions = "You are a coding agent. " * 400
    for i in range(count):
        thread_id = str(uuid.uuid4())
        started = base + timedelta(minutes=i)
        path = rollout_path_for(home, thread_id, started)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = started.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        where = cwd_for(i)
        prompt = f"fix failing test number {i}"
        lines = [
            {"timestamp": stamp, "type": "session_meta", "payload": {
                "id": thread_id, "timestamp": stamp, "cwd": where, "cli_version": "0.169.0",
                "source": "exec", "originator": "codex_exec", "model_provider": "mock",
                "base_instructions": {"text": instructions}}},
            {"timestamp": stamp, "type": "event_msg", "payload": {
                "type": "task_started", "turn_id": f"turn-{i}"}},
            {"timestamp": stamp, "type": "turn_context", "payload": {
                "turn_id": f"turn-{i}", "cwd": where, "approval_policy": "never",
                "sandbox_policy": {"type": "read-only"}, "model": "mock-model",
                "summary": "auto"}},
            {"timestamp": stamp, "type": "response_item", "payload": {
                "type": "message", "role": "user",
                "content": [{"type": "input_text", "text": prompt}]}},
            {"timestamp": stamp, "type": "event_msg", "payload": {
                "type": "user_message", "message": prompt}},
            {"timestamp": stamp, "type": "response_item", "payload": {
                "type": "message", "role": "assistant",
                "content": [{"type": "output_text", "text": "Done. " * 50}]}},
            {"timestamp": stamp, "type": "event_msg", "payload": {
                "type": "agent_message", "message": "Done. " * 50}},
            {"timestamp": stamp, "type": "event_msg", "payload": {
                "type": "token_count", "info": {"total_token_usage": {"total_tokens": 1234}}}},
            {"timestamp": stamp, "type": "event_msg", "payload": {
                "type": "task_complete", "turn_id": f"turn-{i}",
                "last_agent_message": "Done."}},
        ]
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        os.utime(path, (epoch + i * 60, epoch + i * 60))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--megabytes", type=float, default=100.0)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--compaction-tail-mb", type=float, default=None,
                        help="place a compaction this many MB before the end")
    args = parser.parse_args()
    tail = None if args.compaction_tail_mb is None else int(args.compaction_tail_mb * 1_000_000)
    result = generate_rollout(
        args.out, int(args.megabytes * 1_000_000), source=args.source, compaction_tail_bytes=tail
    )
    print(f"{result.path}: {result.size} bytes, {result.lines} lines, {result.turns} turns, "
          f"thread {result.thread_id}, compaction at {result.compaction_offset}")


if __name__ == "__main__":
    main()
