"""SIGKILL at random moments: no acknowledged event is ever lost, no saved line damaged.

Run: ``.venv/bin/python bench/bench_kill9.py [--trials 1000] [--seed 0] [--only NAME]``.
Not part of the default test run (it takes about half an hour on two cores); the figures
of a run are kept in docs/performance.md. The ``tui`` frontends need tmux.

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

- ``tui``: ``llmx`` (the interactive session) in a tmux pane, in a fresh home: the prompt
  is typed and sent, and the program is killed at a random moment after Enter.
  Acknowledged: what the screen showed (the pane is read every few milliseconds until
  the kill, and its last frame after it): the prompt in the transcript (the submission
  taken), the command's running and finished cells, the turn's closing rule. Checked:
  each is in the file (the ``user_turn`` submission, the command's begin and end lines,
  the turn's end after the prompt). Text streaming into an answer is not counted: deltas
  are never written (as in Codex); the answer is on record when its item completes.
- ``tui-resume``: the same, through ``llmx resume ID`` of a copy of a finished session.

After every kill: the rollout reads with no bad line (a torn final line at most); its
ordinals run 0, 1, 2... without a gap or repeat; every ``output_ref`` names a complete
blob; ``llmx rollout check`` passes; and a new writer opens it, cuts a torn tail, removes
partial blobs and appends the next ordinal. Each frontend is one entry of ``FRONTENDS``: a
function that runs one trial and returns what it acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import random
import re
import select
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import uuid
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
# never taken by the next trial, and its command names it (a screen can tell it apart).
SECOND = {"chunk_delay": 0.004, "items": [
    {"type": "message", "text": "Done: the output was long. " * 12},
]}


def first(index: int) -> dict[str, object]:
    return {"chunk_delay": 0.004, "items": [
        {"type": "message", "text": "Looking at it now, " * 12},
        {"type": "shell", "command": f"head -c 300000 /dev/zero | tr '\\0' x; echo {ran(index)}"},
    ]}


def script(trials: int) -> dict[str, object]:
    turns = []
    for index in range(-2, trials):
        turns.append({"match": prompt(index), **first(index)})
        turns.append({"match": prompt(index), **SECOND})
    return {"turns": turns, "fallback": [{"type": "message", "text": "ok"}]}


def prompt(index: int) -> str:
    return f"task-{index:06d}"


def ran(index: int) -> str:
    """What the trial's command prints last (its command line names it too)."""
    return f"{prompt(index)}-ran"


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
    # How long the interactive session takes from Enter to its turn's end (measured once).
    tui_span: float = 0.0

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


def rollout_check(bench: Bench, home: Path, path: Path, outcome: Outcome) -> None:
    """``llmx rollout check`` finds nothing wrong (a torn final line alone is no fault)."""
    done = subprocess.run([*LLMX, "rollout", "check", "--json", str(path)],
                          env=bench.env(home), capture_output=True, text=True, timeout=WAIT,
                          check=False)
    if done.returncode != 0:
        outcome.problems.append(f"rollout check: {(done.stdout + done.stderr).strip()[:300]}")


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
    rollout_check(bench, home, path, outcome)
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
    rollout_check(bench, home, path, outcome)
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
    rollout_check(bench, home, path, outcome)
    reopen_and_append(path, outcome)
    return outcome


# -- the interactive session in a terminal ---------------------------------------------------

COLUMNS, ROWS = 160, 40
READY = "mock-model ·"  # the status line: the thread is open, the composer takes keys
TURN_END = re.compile(r"^(─ (Worked for .+|Done) ─|■ (Conversation interrupted|Turn failed))")


class Pane:
    """A program in a tmux pane of its own server; the pane stays after the program dies,
    showing its last frame."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.socket = f"llmx-kill9-{uuid.uuid4().hex[:10]}"
        exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
        self._tmux("-f", "/dev/null", "new-session", "-d", "-x", str(COLUMNS), "-y", str(ROWS),
                   "-c", str(cwd), f"env -i {exports} {shlex.join(argv)}", ";",
                   "set-option", "-g", "remain-on-exit", "on")

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, timeout=WAIT, check=False)
        return done.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "0")

    def pid(self) -> int:
        return int(self._tmux("display-message", "-p", "-t", "0", "#{pane_pid}").strip())

    def dead(self) -> bool:
        return self._tmux("display-message", "-p", "-t", "0", "#{pane_dead}").strip() == "1"

    def type_line(self, text: str) -> None:
        self._tmux("send-keys", "-t", "0", "-l", text)
        self._tmux("send-keys", "-t", "0", "Enter")

    def wait_for(self, text: str) -> str | None:
        """The screen once it shows ``text``; None if the program died or it never came."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            shown = self.screen()
            if text in shown:
                return shown
            if self.dead():
                return None
            time.sleep(0.01)
        return None

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=WAIT, check=False)


@dataclass
class Shown:
    """What the screen showed of the trial's turn."""

    prompt: bool = False  # the prompt in the transcript: the submission was taken
    running: bool = False  # the command's cell, running
    ran: bool = False  # the command's cell, finished
    ended: bool = False  # the turn's closing rule

    def read(self, screen: str, index: int) -> None:
        rows = [row.rstrip() for row in screen.splitlines()]
        mine = f"› {prompt(index)}"
        user_row = next((n for n, row in enumerate(rows) if row.startswith(mine)), None)
        # A resumed session shows earlier turns above this one: a closing rule is this
        # turn's when it is below the prompt, or when the prompt was seen and has since
        # scrolled away (everything left on screen came after it).
        after_prompt = user_row is not None or self.prompt
        self.prompt = self.prompt or user_row is not None
        for number, row in enumerate(rows):
            if ran(index) in row and "Running " in row:
                self.running = True
            if ran(index) in row and "Ran " in row:
                self.ran = True
            if TURN_END.match(row) and after_prompt and (user_row is None or number > user_row):
                self.ended = True

    def count(self) -> int:
        return self.prompt + self.running + self.ran + self.ended


def recorded_facts(path: Path, index: int) -> Shown:
    """The same facts, as the file has them."""
    facts = Shown()
    submitted: int | None = None
    for line in RolloutReader(path):
        raw = line.raw
        kind = line.payload_type
        if line.type == "submission" and prompt(index).encode() in raw:
            facts.prompt = True
            submitted = line.ordinal
        elif ran(index).encode() in raw and kind in ("exec_command_begin", "item_started"):
            facts.running = True
        elif ran(index).encode() in raw and kind in ("exec_command_end", "item_completed"):
            facts.ran = True
        elif kind in ("task_complete", "turn_aborted") and submitted is not None:
            facts.ended = True
    return facts


def tui_argv(*words: str) -> list[str]:
    return [*LLMX, *words]


def tui_env(bench: Bench, home: Path) -> dict[str, str]:
    env = bench.env(home)
    keep = ("PATH", "HOME", "PYTHONPATH", "LLMX_HOME", "MOCK_API_KEY", "NO_COLOR")
    return {**{key: env[key] for key in keep if key in env},
            "TERM": "screen-256color", "LANG": "C.UTF-8"}


def run_tui_killed(bench: Bench, home: Path, workspace: Path, index: int,
                   words: list[str]) -> tuple[Shown, str | None]:
    """Start the session, send the trial's prompt, SIGKILL it at a random moment after
    Enter; what the screen showed (and a problem, if it never got that far)."""
    shown = Shown()
    pane = Pane(tui_argv(*words), tui_env(bench, home), workspace)
    try:
        if pane.wait_for(READY) is None:
            return shown, f"the session never became ready: {pane.screen()[-400:]!r}"
        pid = pane.pid()
        pane.type_line(prompt(index))
        kill_at = time.monotonic() + bench.rng.uniform(0.0, bench.tui_span)
        while time.monotonic() < kill_at:
            shown.read(pane.screen(), index)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + WAIT
        while not pane.dead() and time.monotonic() < deadline:
            time.sleep(0.005)
        shown.read(pane.screen(), index)  # the last frame it drew
        return shown, None
    finally:
        pane.close()


def check_shown(shown: Shown, path: Path | None, index: int, outcome: Outcome) -> None:
    outcome.acknowledged = shown.count()
    recorded = Shown() if path is None else recorded_facts(path, index)
    missing = [name for name in ("prompt", "running", "ran", "ended")
               if getattr(shown, name) and not getattr(recorded, name)]
    if missing:
        outcome.lost = len(missing)
        outcome.problems.append(f"shown on screen but not in the file: {', '.join(missing)}")


def trial_tui(bench: Bench, index: int) -> Outcome:
    outcome = Outcome()
    home = bench.work / f"tui{index}"
    write_config(home, bench.base_url)
    workspace = new_workspace(bench, f"tui{index}-ws")
    shown, problem = run_tui_killed(bench, home, workspace, index, [])
    if problem is not None:
        outcome.problems.append(problem)
        return outcome
    found = rollouts(home)
    if not found:
        outcome.no_file = True
        check_shown(shown, None, index, outcome)
        return outcome
    [path] = found
    check_file(path, outcome)
    check_shown(shown, path, index, outcome)
    rollout_check(bench, home, path, outcome)
    reopen_and_append(path, outcome)
    return outcome


def trial_tui_resume(bench: Bench, index: int) -> Outcome:
    outcome = Outcome()
    home = bench.work / f"tui-resume{index}"
    shutil.copytree(bench.template, home)
    [path] = rollouts(home)
    thread_id = path.name.removesuffix(".jsonl")[-36:]
    workspace = new_workspace(bench, f"tui-resume{index}-ws")
    shown, problem = run_tui_killed(bench, home, workspace, index, ["resume", thread_id])
    if problem is not None:
        outcome.problems.append(problem)
        return outcome
    check_file(path, outcome)
    check_shown(shown, path, index, outcome)
    rollout_check(bench, home, path, outcome)
    reopen_and_append(path, outcome)
    return outcome


def measure_tui(work: Path, base_url: str, bench: Bench) -> float:
    """Seconds from Enter to the closing rule of a whole turn in the interactive session."""
    home = work / "tui-template"
    write_config(home, base_url)
    workspace = work / "tui-template-ws"
    workspace.mkdir()
    subprocess.run(["git", "init", "-q", str(workspace)], check=True, timeout=WAIT)
    pane = Pane(tui_argv(), tui_env(bench, home), workspace)
    try:
        if pane.wait_for(READY) is None:
            raise SystemExit(f"bench_kill9: the session never became ready: {pane.screen()!r}")
        began = time.monotonic()
        pane.type_line(prompt(-2))
        if pane.wait_for("─ Worked for") is None:
            raise SystemExit(f"bench_kill9: the template turn never ended: {pane.screen()!r}")
        return time.monotonic() - began
    finally:
        pane.close()


FRONTENDS: dict[str, Callable[[Bench, int], Outcome]] = {
    "exec": trial_exec,
    "resume": trial_resume,
    "writer": trial_writer,
    "tui": trial_tui,
    "tui-resume": trial_tui_resume,
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
        tui_span = 0.0
        if any(name.startswith("tui") for name in names):
            if shutil.which("tmux") is None:
                raise SystemExit("bench_kill9: the tui frontends need tmux; install it or "
                                 "leave them out with --only")
            tui_span = 1.2 * measure_tui(Path(scratch), server.base_url, probe)
        for index in range(args.trials):
            name = names[index % len(names)]
            work = Path(scratch) / f"t{index}"
            work.mkdir()
            bench = Bench(work, server.base_url, template, rng, span, template_runs, tui_span)
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
          f"(seed {args.seed}; kills within {span:.2f} s of the start, and for the "
          f"session within {tui_span:.2f} s of Enter)")
    print(f"{'frontend':<10} {'trials':>7} {'acknowledged':>13} {'lost':>5} {'no file':>8} "
          f"{'torn tails':>11} {'failed':>7}")
    for name, total in totals.items():
        print(f"{name:<10} {total['trials']:>7} {total['acknowledged']:>13} "
              f"{total['lost']:>5} {total['no file']:>8} {total['torn tails']:>11} "
              f"{total['failed']:>7}")
    for failure in failures[:40]:
        print(failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
