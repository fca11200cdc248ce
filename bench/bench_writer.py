"""Writer throughput and per-event latency of ``EventLog``, beside a stdlib ``json`` baseline.

Usage: ``python bench/bench_writer.py [--events 200000]``

Each run records typical small events (``agent_message``, ``token_count``-sized) into a
fresh rollout in a temporary home, FsyncPolicy.TURN (write + flush per batch, fsync at
turn end: one ``task_complete`` every 1000 events). Reported: events/s and the p50/p99
latency of one ``record`` call. The baseline encodes the same dicts with ``json.dumps``
and ``os.write``s each line to an O_APPEND file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llmx.events.event_log import EventLog  # noqa: E402
from llmx.events.event_msgs import AgentMessage, TaskComplete  # noqa: E402
from llmx.events.ids import new_thread_id  # noqa: E402
from llmx.events.ops import UserInputOp  # noqa: E402
from llmx.events.primitives import TextInput  # noqa: E402
from llmx.events.records import SessionMeta, SubmissionRecord  # noqa: E402
from llmx.events.redact import Redactor  # noqa: E402

TEXT = "Ran the tests; 3 failures in test_parser.py, fixing the tokenizer next."


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.99)]


async def run_llmx(
    home: Path, events: int, batch: int, redactor: Redactor, ephemeral: bool
) -> dict[str, float]:
    meta = SessionMeta(id=new_thread_id(), cwd="/w", originator="bench", cli_version="0")
    log = EventLog.for_new_thread(home, meta, redactor=redactor, ephemeral=ephemeral)
    await log.record(SubmissionRecord(id="0", op=UserInputOp(items=[TextInput(text="go")])))
    latencies: list[float] = []
    start = time.perf_counter()
    sent = 0
    while sent < events:
        items: list[object] = [AgentMessage(message=f"{TEXT} #{sent + i}") for i in range(batch)]
        if (sent // 1000) != ((sent + batch) // 1000):
            items.append(TaskComplete(turn_id=str(sent)))
        began = time.perf_counter()
        await log.record(*items)  # type: ignore[arg-type]
        latencies.append(time.perf_counter() - began)
        sent += batch
    await log.close()
    elapsed = time.perf_counter() - start
    p50, p99 = _percentiles(latencies)
    return {"events_per_s": sent / elapsed, "p50_us": p50 * 1e6, "p99_us": p99 * 1e6}


def run_baseline(home: Path, events: int) -> dict[str, float]:
    path = home / "baseline.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    latencies: list[float] = []
    start = time.perf_counter()
    for index in range(events):
        began = time.perf_counter()
        line = {
            "timestamp": "2026-11-21T05:32:54.241Z",
            "ordinal": index,
            "type": "event_msg",
            "payload": {"type": "agent_message", "message": f"{TEXT} #{index}"},
        }
        os.write(fd, (json.dumps(line, separators=(",", ":")) + "\n").encode())
        if index % 1000 == 999:
            os.fsync(fd)
        latencies.append(time.perf_counter() - began)
    os.fsync(fd)
    os.close(fd)
    elapsed = time.perf_counter() - start
    p50, p99 = _percentiles(latencies)
    return {"events_per_s": events / elapsed, "p50_us": p50 * 1e6, "p99_us": p99 * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cases = [
        ("stdlib json + os.write (baseline)", None),
        ("llmx EventLog, 1 event/record, redaction on", (1, True, False)),
        ("llmx EventLog, 1 event/record, redaction off", (1, False, False)),
        ("llmx EventLog, 100 events/record, redaction on", (100, True, False)),
        ("llmx EventLog, ephemeral sink, 1 event/record", (1, True, True)),
    ]
    for name, setup in cases:
        runs = []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                if setup is None:
                    runs.append(run_baseline(Path(tmp), args.events))
                else:
                    batch, redact, ephemeral = setup
                    redactor = Redactor.from_environment() if redact else Redactor.disabled()
                    run = run_llmx(Path(tmp), args.events, batch, redactor, ephemeral)
                    runs.append(asyncio.run(run))
        best = max(runs, key=lambda r: r["events_per_s"])
        print(
            f"{name:48s} {best['events_per_s']:9.0f} events/s  "
            f"p50 {best['p50_us']:7.1f} us  p99 {best['p99_us']:7.1f} us per record"
        )


if __name__ == "__main__":
    main()
