"""A rollout writer in a process of its own, for tests and benchmarks that need a live one.

    python tests/support/rollout_writer.py HOME THREAD_ID [--line-bytes N] [--batches N]
        [--pause SECONDS]

It opens a new thread's rollout under HOME through ``EventLog`` (the same writer every
frontend uses), prints ``path PATH`` once the file exists, then records batches of two
large ``agent_message`` events and prints ``ack ORDINAL`` after each batch ``record``
returned (acknowledged: in the file), resting ``--pause`` seconds between batches. It
stops after ``--batches`` batches, or when stdin is closed, and closes the log.
"""

from __future__ import annotations

import argparse
import asyncio
import select
import sys
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from llmx.events.event_log import EventLog, RolloutOptions
from llmx.events.event_msgs import AgentMessage
from llmx.events.ops import UserInputOp
from llmx.events.primitives import TextInput
from llmx.events.records import SessionMeta, SubmissionRecord
from llmx.events.redact import Redactor

STARTED = datetime(2026, 11, 21, 6, 0, 0).astimezone()


def _stdin_closed() -> bool:
    readable, _, _ = select.select([sys.stdin], [], [], 0)
    return bool(readable) and not sys.stdin.buffer.read1(1)


async def run(home: Path, thread_id: str, line_bytes: int, batches: int, pause: float) -> None:
    meta = SessionMeta(id=thread_id, cwd="/w", originator="test_writer", cli_version="0")
    log = EventLog.for_new_thread(
        home, meta, started_local=STARTED, options=RolloutOptions(inline_output_limit=None),
        redactor=Redactor.disabled(),
    )
    await log.record(SubmissionRecord(id="0", op=UserInputOp(items=[TextInput(text="go")])))
    print(f"path {log.path}", flush=True)
    text = "w" * line_bytes
    for batch in range(batches):
        if _stdin_closed():
            break
        result = await log.record(
            AgentMessage(message=f"{batch} {text}"), AgentMessage(message=f"{batch}b {text}")
        )
        print(f"ack {result.lines[-1].ordinal}", flush=True)
        if pause:
            await asyncio.sleep(pause)
    await log.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("home", type=Path)
    parser.add_argument("thread_id")
    parser.add_argument("--line-bytes", type=int, default=1 << 20)
    parser.add_argument("--batches", type=int, default=1_000_000)
    parser.add_argument("--pause", type=float, default=0.0)
    args = parser.parse_args()
    asyncio.run(run(args.home, args.thread_id, args.line_bytes, args.batches, args.pause))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
