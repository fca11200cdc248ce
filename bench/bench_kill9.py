"""SIGKILL at random moments: no acknowledged event is ever lost, no saved line damaged.

Run: ``.venv/bin/python bench/bench_kill9.py [--trials 1000] [--seed 0]``. Not part of the
default test run (it takes about twenty minutes on two cores); the figures of a run are
kept in docs/performance.md.

Three frontends that write a session, each killed with SIGKILL at a random moment:

- ``exec``: ``llmx exec --json PROMPT`` in a fresh home, against the loopback model server
  (a streamed answer, a sandboxed command, a large output kept beside the rollout).
  Acknowledged: every complete JSONL line it printed. Checked: ``llmx replay --json`` of
  the file it left begins with exactly those lines.
- ``resume``: ``llmx exec --json resume ID PROMPT`` on a copy of a finished session.
  Acknowledged: the same; checked against the replay's block of the resumed turn (a
  replay prints one block per run, numbered as that run numbered its items).
- ``writer``: a forked process appending batches to an ``EventLog`` (fsync per batch),
  reporting each batch's last ordinal once it was synced. Acknowledged: those ordinals.

After every kill: the rollout reads with no bad line (a torn final line at most); its
ordinals run 0, 1, 2... without a gap or repeat; every ``output_ref`` names a complete
blob; and a new writer opens it, cuts a torn tail, removes partial blobs and appends the
next ordinal. A frontend added later (an interactive session) joins as one more entry of
``FRONTENDS``: a function that runs one trial and returns what it acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import random
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.model_scripts import Script  # noqa: E402
from support.model_server import ModelServer  # noqa: E402

from llmx.events.event_log import EventLog, RolloutOptions  # noqa: E402
from llmx.events.event_msgs import (  # noqa: E402
    AgentMessage,
    ExecCommandEnd,
    TaskComplete,
    TaskStarted,
)
from llmx.events.fsync_policy import FsyncPolicy  # noqa: E402
from llmx.events.home import rollout_path_for  # noqa: E402
from llmx.events.ids import new_thread_id  # noqa: E402
from llmx.events.ops import UserInputOp  # noqa: E402
from llmx.events.outputs import blob_path  # noqa: E402
from llmx.events.primitives import TextInput  # noqa: E402
from llmx.events.reader import RolloutReader  # noqa: E402
from llmx.events.records import OutputRef, SessionMeta, SubmissionRecord  # noqa: E402
from llmx.events.redact import Redactor  # noqa: E402
from llmx.events.sinks import PARTIAL_SUFFIX  # noqa: E402

LLMX = [sys.executable, "-m", "llmx"]
# A turn long enough to be killed anywhere in it: a streamed answer with a command whose
# output is kept beside the rollout, then, once the command's output is in, another
# streamed answer. Each trial has its own prompt, so a turn left unused by a kill is
# never taken by the next trial.
FIRST = {"chunk_delay": 0.004, "items": [
    {"type": "message", "text": "Looking at it now, " * 12},
    {"type": "shell", "command": "head -c 300000 /dev/zero | tr '\\0' x; echo"},
]}
SECOND = {"chunk_delay": 0.004, "items": [
    {"type": "message", "text": "Done: the output was long. " * 12},
]}


def script(trials: int) -> dict[str, object]:
    turns = []
    for index in range(-1, trials):
        turns.append({"match": prompt(index), **FIRST})
        turns.append({"match": prompt(index), **SECOND})
    return {"turns": turns, "fallback": [{"type": "message", "text": "ok"}]}


def prompt(index: int) -> str:
    return f"task-{index:06d}"


WAIT = 120.0
STARTED = datetime(2026, 11, 21, 6, 0, 0).astimezone()
REPORT = struct.Struct("<q")


@dataclass
class Outcome:
    """One trial: how many acknowledged events it checked, and what it found."""

    acknowledged: int = 0
    lost: int = 0
    lines: int = 0
    torn_tail: bool = False
    no_file: bool = False
    problems: list[str] = field(default_factory=list)


@dataclass
class Bench:
    work: Path
    base_url: str
    template: Path  # a home holding one finished session, copied for resume trials
    rng: random.Random
    # How long a whole run takes here (measured once): kills fall anywhere within it.
    span: float
    # How many runs the template session holds (its replay's blocks).
    template_runs: int

    def env(self, home: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMX_", "OPENAI_"))}
        env.update(LLMX_HOME=str(home), NO_COLOR="1", MOCK_API_KEY="mock")
        return env


def write_config(home: Path, base_url: str) -> None:
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        'model = "mock-model"\nmodel_provider = "mock"\n'
        'sandbox_mode = "workspace-write"\napproval_policy = "never"\n'
        '[rollout]\ninline_output_cap_bytes = 4096\n'
        '[model_providers.mock]\nname = "mock"\n'
        f'base_url = "{base_url}"\nenv_key = "MOCK_API_KEY"\nwire_api = "responses"\n'
        "stream_max_retries = 0\n"
    )


def rollouts(home: Path) -> list[Path]:
    return sorted((home / "sessions").glob("*/*/*/rollout-*.jsonl"))


def check_file(path: Path, outcome: Outcome) -> None:
    """The checks every killed rollout must pass."""
    reader = RolloutReader(path)
    lines = list(reader)
    if reader.problems:
        outcome.problems.append(f"bad lines: {reader.problems[:3]}")
    ordinals = [line.ordinal for line in lines]
    if ordinals != list(range(len(lines))):
        outcome.problems.append(f"ordinals not 0..{len(lines) - 1}: {ordinals[-5:]}")
    for line in lines:
        item = line.item()
        if isinstance(item, OutputRef):
            try:
                data = blob_path(path, item.sha256).read_bytes()
            except OSError as exc:
                outcome.problems.append(f"blob {item.sha256[:12]} missing: {exc}")
                continue
            if hashlib.sha256(data).hexdigest() != item.sha256 or len(data) != item.size:
                outcome.problems.append(f"blob {item.sha256[:12]} incomplete")
    outcome.lines = len(lines)
    outcome.torn_tail = reader.torn_tail is not None


def reopen_and_append(path: Path, outcome: Outcome) -> None:
    """A new writer cuts a torn tail, removes partial blobs and continues the ordinals."""

    async def append() -> None:
        log = EventLog.resume(path, redactor=Redactor.disabled())
        if log.next_ordinal != outcome.lines:
            outcome.problems.append(f"writer continues at {log.next_ordinal}, not {outcome.lines}")
        await log.record(TaskStarted(turn_id="after-kill"))
        await log.close()

    asyncio.run(append())
    after = RolloutReader(path)
    ordinals = [line.ordinal for line in after]
    if ordinals != list(range(outcome.lines + 1)) or after.torn_tail is not None:
        outcome.problems.append(
            f"after reopening: ordinals {ordinals[-3:]}, torn {after.torn_tail}")
    if after.problems:
        outcome.problems.append(f"after reopening: {after.problems[:3]}")
    leftovers = [p.name for p in path.parent.rglob(f"*{PARTIAL_SUFFIX}")]
    if leftovers:
        outcome.problems.append(f"partial blobs left after reopening: {leftovers[:3]}")


def run_killed(bench: Bench, home: Path, args: list[str], workspace: Path) -> list[str]:
    """Start ``llmx ARGS``, SIGKILL it at a random moment; the complete lines it printed."""
    process = subprocess.Popen(
        [*LLMX, *args], cwd=workspace, env=bench.env(home), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    time.sleep(bench.rng.uniform(0.0, bench.span))
    process.kill()
    out, _ = process.communicate(timeout=WAIT)
    text = out.decode("utf-8", "replace")
    return text.splitlines()[: text.count("\n")]


def replay_lines(bench: Bench, home: Path, path: Path) -> list[str]:
    done = subprocess.run([*LLMX, "replay", "--json", str(path)], env=bench.env(home),
                          capture_output=True, text=True, timeout=WAIT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"replay failed: {done.stderr.strip()[-300:]}")
    return done.stdout.splitlines()


def blocks(lines: list[str]) -> list[list[str]]:
    """Replay output split into one block per run (each opens with ``thread.started``)."""
    found: list[list[str]] = []
    for line in lines:
        if json.loads(line).get("type") == "thread.started" or not found:
            found.append([])
        found[-1].append(line)
    return found


def compare(live: list[str], recorded: list[str] | None, outcome: Outcome) -> None:
    """Every line the run printed is the recorded block's line at the same place."""
    events = [line for line in live if json.loads(line).get("type") != "thread.started"]
    outcome.acknowledged = len(events)
    if not events:
        return
    if recorded is None:
        outcome.lost = len(events)
        outcome.problems.append(f"{len(events)} events printed, none recorded")
        return
    if recorded[: len(live)] != live:
        padded = recorded + [""] * len(live)
        first = next(i for i, (shown, kept) in enumerate(zip(live, padded, strict=False))
                     if shown != kept)
        outcome.lost = len(live) - first
        outcome.problems.append(f"printed line {first} not recorded: {live[first][:160]}")


def new_workspace(bench: Bench, name: str) -> Path:
    workspace = bench.work / name
    workspace.mkdir()
    subprocess.run(["git", "init", "-q", str(workspace)], check=True, timeout=WAIT)
    return workspace


def trial_exec(bench: Bench, index: int) -> Outcome:
    outcome = Outcome()
    home = bench.work / f"exec{index}"
    write_config(home, bench.base_url)
    workspace = new_workspace(bench, f"exec{index}-ws")
    live = run_killed(bench, home, ["exec", "--json", prompt(index)], workspace)
    found = rollouts(home)
    if not found:
        outcome.no_file = True
        compare(live, None, outcome)
        return outcome
    [path] = found
    check_file(path, outcome)
    recorded = blocks(replay_lines(bench, home, path))
    compare(live, recorded[0] if recorded else None, outcome)
    reopen_and_append(path, outcome)
    return outcome


def trial_resume(bench: Bench, index: int) -> Outcome:
    outcome = Outcome()
    home = bench.work / f"resume{index}"
    shutil.copytree(bench.template, home)
    [path] = rollouts(home)
    before = bench.template_runs
    thread_id = path.name.removesuffix(".jsonl")[-36:]
    workspace = new_workspace(bench, f"resume{index}-ws")
    live = run_killed(bench, home, ["exec", "--json", "resume", thread_id, prompt(index)],
                      workspace)
    check_file(path, outcome)
    recorded = blocks(replay_lines(bench, home, path))
    compare(live, recorded[before] if len(recorded) > before else None, outcome)
    reopen_and_append(path, outcome)
    return outcome


def _writer_child(home: Path, thread_id: str, seed: int, report_fd: int) -> None:
    rng = random.Random(seed)

    async def run() -> None:
        options = RolloutOptions(fsync=FsyncPolicy.ALWAYS, inline_output_limit=4096)
        meta = SessionMeta(id=thread_id, cwd="/w", originator="bench_kill9", cli_version="0")
        log = EventLog.for_new_thread(home, meta, started_local=STARTED, options=options,
                                      redactor=Redactor.disabled())
        await log.record(SubmissionRecord(id="0", op=UserInputOp(items=[TextInput(text="go")])))
        os.write(report_fd, REPORT.pack(log.next_ordinal - 1))
        for turn in range(10_000):
            batch: list[object] = [TaskStarted(turn_id=str(turn))]
            for _ in range(rng.randint(0, 6)):
                roll = rng.random()
                if roll < 0.3:
                    output = "o" * rng.choice([10, 1000, 50_000])
                    batch.append(ExecCommandEnd(call_id=f"c{turn}", exit_code=0,
                                                aggregated_output=output))
                elif roll < 0.4:
                    batch.append(AgentMessage(message="m" * rng.choice([200_000, 1_000_000])))
                else:
                    batch.append(AgentMessage(message=f"turn {turn} says {rng.random()}"))
            batch.append(TaskComplete(turn_id=str(turn)))
            await log.record(*batch)  # type: ignore[arg-type]
            os.write(report_fd, REPORT.pack(log.next_ordinal - 1))

    asyncio.run(run())


def trial_writer(bench: Bench, index: int) -> Outcome:
    outcome = Outcome()
    home = bench.work / f"writer{index}"
    thread_id = new_thread_id()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into the bench
        code = 0
        try:
            os.close(read_fd)
            _writer_child(home, thread_id, index, write_fd)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    reports = b""
    deadline = time.monotonic() + bench.rng.uniform(0.0, 0.25)
    while time.monotonic() < deadline:
        ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))
        if ready:
            reports += os.read(read_fd, 1 << 16)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    while chunk := os.read(read_fd, 1 << 16):
        reports += chunk
    os.close(read_fd)
    count = len(reports) // REPORT.size
    last = REPORT.unpack_from(reports, (count - 1) * REPORT.size)[0] if count else None
    outcome.acknowledged = 0 if last is None else last + 1
    path = rollout_path_for(home, thread_id, STARTED)
    if not path.exists():
        outcome.no_file = True
        if last is not None:
            outcome.problems.append("synced lines reported, but no file")
        return outcome
    check_file(path, outcome)
    if last is not None and outcome.lines - 1 < last:
        outcome.lost = last - (outcome.lines - 1)
        outcome.problems.append(f"synced up to {last}, file ends at {outcome.lines - 1}")
    reopen_and_append(path, outcome)
    return outcome


FRONTENDS: dict[str, Callable[[Bench, int], Outcome]] = {
    "exec": trial_exec,
    "resume": trial_resume,
    "writer": trial_writer,
}


def make_template(work: Path, base_url: str) -> tuple[Path, float]:
    """A home with one whole session (the first turn of the script), and how long it took."""
    home = work / "template"
    write_config(home, base_url)
    workspace = work / "template-ws"
    workspace.mkdir()
    subprocess.run(["git", "init", "-q", str(workspace)], check=True, timeout=WAIT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMX_", "OPENAI_"))}
    env.update(LLMX_HOME=str(home), MOCK_API_KEY="mock")
    began = time.monotonic()
    done = subprocess.run([*LLMX, "exec", prompt(-1)], cwd=workspace, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=WAIT,
                          check=False)
    span = time.monotonic() - began
    if done.returncode != 0 or len(rollouts(home)) != 1:
        raise SystemExit(f"bench_kill9: the template session failed: {done.stderr[-500:]!r}")
    return home, span


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000, help="in all (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=sorted(FRONTENDS), action="append",
                        help="run only this frontend's trials (repeatable)")
    args = parser.parse_args()
    names = args.only or list(FRONTENDS)
    rng = random.Random(args.seed)
    totals: dict[str, Counter[str]] = {name: Counter() for name in names}
    failures: list[str] = []
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="llmx-kill9-") as scratch, \
            ModelServer(Script.from_json(script(args.trials))) as server:
        template, span = make_template(Path(scratch), server.base_url)
        [template_rollout] = rollouts(template)
        probe = Bench(Path(scratch), server.base_url, template, rng, span, 0)
        template_runs = len(blocks(replay_lines(probe, template, template_rollout)))
        # A little longer than a whole run: some trials end before their kill.
        span *= 1.2
        for index in range(args.trials):
            name = names[index % len(names)]
            work = Path(scratch) / f"t{index}"
            work.mkdir()
            bench = Bench(work, server.base_url, template, rng, span, template_runs)
            outcome = FRONTENDS[name](bench, index)
            total = totals[name]
            total["trials"] += 1
            total["acknowledged"] += outcome.acknowledged
            total["lost"] += outcome.lost
            total["no file"] += outcome.no_file
            total["torn tails"] += outcome.torn_tail
            total["failed"] += bool(outcome.problems)
            for problem in outcome.problems:
                failures.append(f"{name} trial {index}: {problem}")
                print(f"bench_kill9: {failures[-1]}", file=sys.stderr, flush=True)
            shutil.rmtree(work, ignore_errors=True)
            if (index + 1) % 50 == 0:
                print(f"bench_kill9: {index + 1}/{args.trials} trials, "
                      f"{len(failures)} problems", file=sys.stderr, flush=True)
    elapsed = time.monotonic() - began
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; {args.trials} trials in {elapsed:.0f} s "
          f"(seed {args.seed}; kills within {span:.2f} s of the start)")
    print(f"{'frontend':<8} {'trials':>7} {'acknowledged':>13} {'lost':>5} {'no file':>8} "
          f"{'torn tails':>11} {'failed':>7}")
    for name, total in totals.items():
        print(f"{name:<8} {total['trials']:>7} {total['acknowledged']:>13} "
              f"{total['lost']:>5} {total['no file']:>8} {total['torn tails']:>11} "
              f"{total['failed']:>7}")
    for failure in failures[:40]:
        print(failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
