"""Model client throughput against the loopback model server.

Usage: .venv/bin/python bench/bench_model_stream.py [ROUNDS]

Measures, for both wire APIs: the time of a short "say hi" request (connect, send, stream,
close: what every turn pays), and the streaming rate of a long answer (20 000 deltas).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.model_server import scripted

from llmx.runtime.config.tables import ModelProviderInfo, WireApi
from llmx.runtime.models.request import ModelRequest, RequestIdentity
from llmx.runtime.models.stream import OutputTextDelta
from llmx.runtime.models.wires import open_model_client

WORDS = 20_000


def request() -> ModelRequest:
    hi = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    return ModelRequest(model="mock-model", input=[hi], identity=RequestIdentity("bench"))


async def measure(wire: WireApi, rounds: int) -> tuple[list[float], float, int]:
    long_text = " ".join(f"w{i}" for i in range(WORDS))
    script = {"turns": [[{"type": "message", "text": long_text}]],
              "fallback": [{"type": "message", "text": "Hi! (from the mock)"}]}
    with scripted(script) as server:
        info = ModelProviderInfo(base_url=server.base_url, env_key="K", wire_api=wire)
        client = open_model_client("mock", info, env={"K": "k"})
        try:
            started = time.perf_counter()
            deltas = sum([1 async for e in client.stream(request())
                          if isinstance(e, OutputTextDelta)])
            long_seconds = time.perf_counter() - started
            short: list[float] = []
            for _ in range(rounds):
                started = time.perf_counter()
                _ = [e async for e in client.stream(request())]
                short.append(time.perf_counter() - started)
        finally:
            await client.aclose()
    return short, long_seconds, deltas


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    for wire in (WireApi.RESPONSES, WireApi.CHAT):
        short, long_seconds, deltas = asyncio.run(measure(wire, rounds))
        print(
            f"{wire.value:9} short request: median {statistics.median(short) * 1000:.2f} ms "
            f"(p90 {sorted(short)[int(len(short) * 0.9)] * 1000:.2f} ms, n={rounds}); "
            f"long answer: {deltas} deltas in {long_seconds:.2f} s = "
            f"{deltas / long_seconds:,.0f} deltas/s"
        )


if __name__ == "__main__":
    main()
