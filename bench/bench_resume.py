"""Resume fold of a ~100 MB rollout: without compaction, and with a late compaction.

Two variants: ``fold_resume`` + ``prompt_input`` (history as dicts, what inspection and
audit use) and ``fold_resume_raw`` + ``prompt_input_raw`` (history as recorded bytes,
what ``exec resume`` sends). Each case runs in a fresh interpreter so that peak memory
(``ru_maxrss``) belongs to that fold alone; the page cache is warm (the file was just
written), which is also the usual case for resuming a recent session.

Run: .venv/bin/python bench/bench_resume.py [--megabytes 100] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_rollout import generate_rollout

VARIANTS = ("dicts", "raw")


def _measure(path: Path, runs: int, variant: str) -> dict[str, object]:
    from llmx.projections import resume

    fold: Callable[[Path], Any]
    prompt: Callable[[Any], list[Any]]
    if variant == "raw":
        fold, prompt = resume.fold_resume_raw, resume.prompt_input_raw
    else:
        fold, prompt = resume.fold_resume, resume.prompt_input
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        state = fold(path)
        sent = prompt(state.history)
        times.append(time.perf_counter() - start)
        del state, sent
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    state = resume.fold_resume(path)
    restored = sum(len(json.dumps(item)) for item in state.history)
    return {
        "best_s": min(times),
        "median_s": statistics.median(times),
        "peak_rss_growth_mib": (peak - before) / 1024,
        "items": len(state.history),
        "restored_json_mib": restored / 2**20,
        "lines_read": state.lines_read,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=float, default=100.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(_measure(args.measure, args.runs, args.variant)))
        return
    size = int(args.megabytes * 1_000_000)
    print(f"machine: {platform.machine()}, kernel {platform.release()}, "
          f"Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as folder:
        cases = {
            "no compaction": generate_rollout(Path(folder) / "plain.jsonl", size),
            "compaction 1 MB before the end": generate_rollout(
                Path(folder) / "compacted.jsonl", size, compaction_tail_bytes=1_000_000
            ),
        }
        for name, rollout in cases.items():
            for variant in VARIANTS:
                result = subprocess.run(
                    [sys.executable, __file__, "--measure", str(rollout.path),
                     "--runs", str(args.runs), "--variant", variant],
                    capture_output=True, text=True, check=True,
                )
                figures = json.loads(result.stdout)
                print(f"{name}, {variant}: {rollout.size / 1e6:.1f} MB, {rollout.lines} lines -> "
                      f"best {figures['best_s']:.3f} s, median {figures['median_s']:.3f} s, "
                      f"peak RSS +{figures['peak_rss_growth_mib']:.1f} MiB, "
                      f"{figures['items']} items ({figures['restored_json_mib']:.1f} MiB JSON) "
                      f"restored, {figures['lines_read']} lines read", flush=True)


if __name__ == "__main__":
    main()
