"""Building a compaction request for a long session: the cost follows what is summarised.

A rollout of N turns (repeated turns of a real Codex session) is folded back into history
as a resume does (``fold_resume_raw``, not timed here: ``bench_resume.py`` measures it).
Then what a compaction does before it sends anything is timed: choosing the newest items
that fit the model's window (``summary_input``), collecting the user messages kept after
it, and encoding the request body. With the window fixed, the time stays flat as N grows
(only the newest items are read); encoding the whole history, as a request without the
window's budget would, grows with N.

Run: .venv/bin/python bench/bench_compaction.py [--turns 100 1000 10000] [--runs 7]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_rollout import DEFAULT_SOURCE, generate_rollout

from llmx.projections.resume import fold_resume_raw, prompt_input_raw
from llmx.projections.turns import collect_user_messages_of
from llmx.runtime.compaction import approx_tokens, summary_input, user_message_candidates

WINDOW_BUDGET = 272_000 * 95 // 100  # Codex's default window, less its reserve


def _decoded(item: object) -> dict[str, object]:
    value = msgspec.json.decode(item) if isinstance(item, msgspec.Raw) else item
    assert isinstance(value, dict)
    return value


def _turn_bytes() -> int:
    lines = DEFAULT_SOURCE.read_bytes().splitlines(keepends=True)
    return sum(len(line) for line in lines[1:]) // 2  # the fixture holds two turns


def _best(fn: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {platform.machine()}, "
          f"budget {WINDOW_BUDGET} tokens")
    print(f"{'turns':>7} {'items':>8} {'history MB':>10} {'summarised':>10} "
          f"{'request ms':>10} {'whole ms':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for turns in args.turns:
            path = Path(tmp) / f"rollout-{turns}.jsonl"
            generate_rollout(path, turns * _turn_bytes())
            history = list(prompt_input_raw(fold_resume_raw(path).history))
            size = sum(len(item) for item in history)

            def build(history: list[Any] = history) -> int:
                kept, _trimmed = summary_input(history, WINDOW_BUDGET)
                collect_user_messages_of(user_message_candidates(kept), _decoded)
                return len(msgspec.json.encode({"input": kept}))

            def whole(history: list[msgspec.Raw] = history) -> int:
                sum(approx_tokens(item) for item in history)
                return len(msgspec.json.encode({"input": history}))

            kept, _ = summary_input(history, WINDOW_BUDGET)
            print(f"{turns:>7} {len(history):>8} {size / 1e6:>10.1f} {len(kept):>10} "
                  f"{_best(build, args.runs) * 1e3:>10.2f} "
                  f"{_best(whole, args.runs) * 1e3:>9.2f}")


if __name__ == "__main__":
    main()
