"""The interactive session in a real terminal (tmux), beside Codex 0.169's TUI.

Three measures, each against the loopback model server (``tests/support/model_server.py``
run as a process):

- start-up: from starting the program in a fresh tmux pane to a ready composer (drawn
  and taking keys: llmx's hint line under it, Codex's "? for shortcuts"), and on to the
  session open (llmx: the status line names the model and "Opening the session" is
  gone; Codex: its header no longer says "loading"), in a home with no sessions;
- resume of the ~100 MB rollout of ``gen_rollout.py`` (``llmx resume ID`` /
  ``codex resume ID``) to a ready composer with the last answer on screen, on to the
  session open (llmx's "Resuming the session" line, Codex's "Resuming session" gone), and
  the peak memory of the program then (``VmHWM`` of the program, the ``Pss`` of what it
  forked, and the ``VmHWM`` of any daemon running from its home);
- keystroke latency while the model streams an answer at about 200 tokens a second (one
  word-sized delta every 5 ms), measured two ways (``--keys-by``):

  - ``control`` (the default): a tmux control-mode client (``tmux -C attach``) sends each
    key (``send-keys``) and reads tmux's ``%output`` notifications, which come as tmux
    reads what the pane's program wrote. The key's time is from the moment the command
    was written to the arrival of the output that drew it: each output holding the
    key's character has the pane's screen captured (``capture-pane``, through the same
    client, so no process is started), and the first capture that shows the composer
    with the key dates it (to the last such output before that capture: never earlier
    than the drawing). Nothing polls, so the measure adds no load of its own while it
    waits;
  - ``poll`` (the first method, kept for comparison): the key is sent with a ``tmux
    send-keys`` process and the pane polled with ``capture-pane`` processes until the
    composer shows it. That includes starting those processes and the polling.

  The same measure of ``cat`` in a pane (the terminal echoes the key) gives tmux's
  floor. llmx runs under ``tui_key_probe.py``, which also times each key inside the
  process: from Textual's reading it to the frame showing it handed to the terminal.

Run: .venv/bin/python bench/bench_tui.py [--runs 5] [--megabytes 100] [--keys 200]
     [--codex PATH] [--compare CHECKOUT] [--floor] [--keys-by control|poll|both]

``--compare`` adds llmx from another checkout (another commit): in the start-up rounds,
llmx, that checkout's llmx and Codex start in turn.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from gen_rollout import generate_rollout  # noqa: E402

from llmx.events.home import rollout_path_for  # noqa: E402

STARTED = datetime(2026, 11, 21, 5, 25, 5)
WAIT_S = 60.0
# An answer long enough to stream for the whole keystroke measure.
STREAMED_WORDS = 6000
CHUNK_DELAY_S = 0.005


@dataclass
class ModelServerProcess:
    process: subprocess.Popen[bytes]
    base_url: str

    @classmethod
    def start(cls, scratch: Path, script: dict[str, object]) -> ModelServerProcess:
        path = scratch / f"script-{uuid.uuid4().hex[:8]}.json"
        path.write_text(json.dumps(script))
        port_file = path.with_suffix(".port")
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "support" / "model_server.py"),
             "--script", str(path), "--port-file", str(port_file)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the model server did not start")
            time.sleep(0.05)
        return cls(process, f"http://127.0.0.1:{port_file.read_text().strip()}/v1")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


class Pane:
    """A program in a pane of its own tmux server."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.socket = f"llmx-bench-{uuid.uuid4().hex[:10]}"
        exports = [f"{key}={value}" for key, value in env.items()]
        self.started = time.perf_counter()
        self._tmux("-f", "/dev/null", "new-session", "-d", "-x", "100", "-y", "30",
                   "-c", str(cwd), "env", "-i", *exports, *argv)

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, timeout=WAIT_S, check=False)
        return done.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "0")

    def wait_for(self, ready: Callable[[str], bool], what: str) -> float:
        """Seconds from the start until ``ready(screen)``."""
        deadline = time.monotonic() + WAIT_S
        while True:
            shown = self.screen()
            if ready(shown):
                return time.perf_counter() - self.started
            if time.monotonic() > deadline:
                self.close()
                raise SystemExit(f"{what} never came; the screen shows:\n{shown}")
            time.sleep(0.005)

    def send_literal(self, text: str) -> None:
        self._tmux("send-keys", "-t", "0", "-l", text)

    def send_key(self, key: str, *, repeat: int = 1) -> None:
        self._tmux("send-keys", "-t", "0", "-N", str(repeat), key)

    def pid(self) -> int:
        return int(self._tmux("display-message", "-p", "-t", "0", "#{pane_pid}").strip())

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=WAIT_S, check=False)

    def __enter__(self) -> Pane:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# A control-mode reply's last line, and an escape sequence as tmux shows it in %output
# (control characters as backslash and three octal digits).
_END = re.compile(rb"^%(end|error) \d+ \d+ (\d+)$")
_ESCAPES = re.compile(rb"\\033(\[[0-9;?<=>]*[ -/]*[@-~]|\][^\\]*|.)")


class Control:
    """A tmux control-mode client (``tmux -C attach``) of a :class:`Pane`'s server: it
    sends commands on its input and reads, as they come, the ``%output`` notifications
    of what the pane's program wrote and the replies to its commands (each between
    ``%begin`` and ``%end``, in the order the commands were sent)."""

    def __init__(self, pane: Pane) -> None:
        self.process = subprocess.Popen(
            ["tmux", "-L", pane.socket, "-C", "attach", "-t", "0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self._input = self.process.stdin
        self._fd = self.process.stdout.fileno()
        self._pending = b""
        # The lines of the reply being read (None: between replies), and for each
        # command sent and not answered yet, whether its reply is wanted.
        self._reply: list[bytes] | None = None
        self._awaited: list[bool] = []
        # The replies wanted, each with the time its %begin came and the time of the
        # last output holding ``watch`` before it (None: none since ``watch`` was set).
        self.replies: list[tuple[str, float, float | None]] = []
        self.watch = b""
        self._watched_at: float | None = None
        self._watched_then: float | None = None

    def command(self, text: str, *, reply: bool = False) -> float:
        """Send ``text`` (one tmux command); the time it was written."""
        self._awaited.append(reply)
        at = time.perf_counter()
        self._input.write(text.encode() + b"\n")
        self._input.flush()
        return at

    def look_for(self, character: str) -> None:
        """From now, capture the screen after each output that writes ``character``."""
        self.watch = character.encode()
        self._watched_at = None

    def pump(self, timeout: float) -> None:
        """Read what tmux sent within ``timeout`` seconds (at least one read if any)."""
        ready, _, _ = select.select([self._fd], [], [], max(timeout, 0.0))
        if not ready:
            return
        chunk = os.read(self._fd, 1 << 16)
        now = time.perf_counter()
        if not chunk:
            raise SystemExit("the tmux control client ended")
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            self._line(line, now)

    def _line(self, line: bytes, now: float) -> None:
        if self._reply is not None:
            end = _END.match(line)
            if end is None:
                self._reply.append(line)
                return
            text, self._reply = b"\n".join(self._reply).decode(errors="replace"), None
            if end.group(2) == b"1" and self._awaited.pop(0):
                self.replies.append((text, now, self._watched_then))
            return
        if line.startswith(b"%begin "):
            self._reply = []
            self._watched_then = self._watched_at
        elif line.startswith(b"%output ") and self.watch:
            written = _ESCAPES.sub(b"", line.split(b" ", 2)[2] if line.count(b" ") > 1 else b"")
            if self.watch in written:
                self._watched_at = now
                self.command("capture-pane -p -t 0", reply=True)

    def screen(self) -> str:
        """The pane's screen now (waiting for the reply; other replies are kept)."""
        wanted = len(self.replies)
        self.command("capture-pane -p -t 0", reply=True)
        deadline = time.monotonic() + WAIT_S
        while len(self.replies) == wanted:
            if time.monotonic() > deadline:
                raise SystemExit("tmux did not answer a capture-pane")
            self.pump(deadline - time.monotonic())
        return self.replies.pop(wanted)[0]

    def idle(self, seconds: float) -> None:
        """Read (and drop) what tmux sends for ``seconds``: tmux ends a control client
        that does not read."""
        deadline = time.perf_counter() + seconds
        while (left := deadline - time.perf_counter()) > 0:
            self.pump(left)
        self.replies.clear()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._input.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def home_daemons(home: Path) -> list[int]:
    """Processes running from ``home`` that the program left behind it: Codex 0.169's
    TUI talks to an app-server daemon it starts from a copy of itself in its home, which
    does the work (and keeps running after the TUI has ended)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if str(home).encode() in cmdline:
            found.append(int(entry.name))
    return found


def helpers_of(pane: Pane, home: Path) -> list[int]:
    """The daemons running from ``home`` apart from the pane's program: neither the
    program itself and what it forked (counted from the program) nor the tmux server
    above it, whose command line names the home too (it started the program with it);
    counting those counted the program twice."""
    program = pane.pid()
    around = {program, *_ancestors(program), *_descendants(program)}
    return [pid for pid in home_daemons(home) if pid not in around]


def _ancestors(pid: int) -> list[int]:
    found = []
    while pid > 1:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])
        found.append(pid)
    return found


def _descendants(pid: int) -> list[int]:
    found, pending = [], _children(pid)
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(_children(child))
    return found


def stop_daemons(home: Path) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in home_daemons(home):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        time.sleep(0.2)


def memory_mib(*pids: int) -> float:
    """The memory of ``pids`` at their peak (``VmHWM``) plus what their descendants use
    of their own now (``Pss``: a forked helper shares its parent's pages, which ``VmHWM``
    would count twice)."""
    total = 0
    for pid in pids:
        total += _status_kib(Path(f"/proc/{pid}/status"), "VmHWM:")
        pending = _children(pid)
        while pending:
            child = pending.pop()
            total += _status_kib(Path(f"/proc/{child}/smaps_rollup"), "Pss:")
            pending.extend(_children(child))
    return total / 1024


def _status_kib(path: Path, field: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_seconds(*pids: int) -> float:
    """User and system CPU time of ``pids`` and their descendants so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = list(pids)
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
        pending.extend(int(child) for child in children)
    return total


def ready_cpu(pane: Pane, home: Path) -> float:
    """CPU time of the pane's program (and what it forked) once ready, read first, then
    of its daemons: finding those scans every process, while the program goes on (llmx
    opens its session after its first frame), which counted 50-80 ms of that work."""
    used = cpu_seconds(pane.pid())
    return used + cpu_seconds(*helpers_of(pane, home))


def config(home: Path, base_url: str, project: Path) -> None:
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        'model = "mock-model"\nmodel_provider = "mock"\ncheck_for_update_on_startup = false\n'
        "[model_providers.mock]\nname = \"mock\"\n"
        f'base_url = "{base_url}"\nenv_key = "MOCK_API_KEY"\nwire_api = "responses"\n'
        f'[projects."{project}"]\ntrust_level = "trusted"\n'
    )


def environment(home_var: str, home: Path) -> dict[str, str]:
    # PYTHONPATH: llmx is this checkout's, whatever the interpreter has installed.
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ["HOME"],
            "TERM": "screen-256color", "LANG": "C.UTF-8", home_var: str(home),
            "MOCK_API_KEY": "dummy", "RUST_LOG": "error", "PYTHONPATH": str(ROOT)}


def program(codex: str | None, *words: str) -> list[str]:
    if codex is None:
        return [sys.executable, "-m", "llmx", *words]
    return [codex, *words]


def composer_ready(codex: str | None) -> Callable[[str], bool]:
    """The composer is drawn and takes keys (what is typed shows, a prompt sent waits
    for the session): llmx's hint line under it, Codex's "? for shortcuts"."""
    if codex is None:
        return lambda screen: "/ commands ·" in screen
    return lambda screen: "for shortcuts" in screen


def session_open(codex: str | None, model: str) -> Callable[[str], bool]:
    """The session is open: llmx's status line names the model and its "Opening/Resuming
    the session" line is gone; Codex's header no longer says "loading" (a new session)
    and its "Resuming session" line is gone."""
    if codex is None:
        return lambda screen: f"{model} ·" in screen and "the session…" not in screen
    return lambda screen: ("for shortcuts" in screen and "loading" not in screen
                           and "Resuming session" not in screen)


def summary(name: str, values: list[float], unit: str, *, scale: float = 1.0) -> str:
    shown = [value * scale for value in values]
    return (f"{name}: median {statistics.median(shown):.3f} {unit} "
            f"[{min(shown):.3f}-{max(shown):.3f}], n={len(shown)}")


def home_for(scratch: Path, name: str, index: int, base_url: str, project: Path, *,
             fresh: bool) -> Path:
    """The program's home for run ``index``: one home for every run (a home used before,
    as a user's is: its caches written by the warm-up run), or with ``fresh`` a new one
    per run (the first start in a home: nothing cached, no session index yet)."""
    home = scratch / (f"{name}-{index}" if fresh else name)
    if not home.exists():
        config(home, base_url, project)
    return home


def done_with(home: Path, *, fresh: bool) -> None:
    stop_daemons(home)
    if fresh:
        shutil.rmtree(home, ignore_errors=True)


def bench_start(scratch: Path, project: Path, base_url: str, runs: int,
                codex: str | None, compare: Path | None, *, fresh: bool,
                floor: bool = False) -> None:
    """Start-up of llmx, of llmx from ``compare`` (another checkout), of Codex and, with
    ``floor``, of a bare Textual app (``tui_floor_app.py``),
    interleaved: each round starts each program once, in turn, so that what else the
    machine does meanwhile weighs on all of them alike. The first round (a warm-up of
    the page cache and the homes) is not counted."""
    # (label, codex or None for llmx's screens, PYTHONPATH, argv)
    programs: list[tuple[str, str | None, Path, list[str]]] = [
        ("llmx", None, ROOT, program(None))]
    if compare is not None:
        programs.append((f"llmx ({compare.name})", None, compare, program(None)))
    if codex:
        programs.append(("codex", codex, ROOT, program(codex)))
    if floor:
        programs.append(("bare Textual app", None, ROOT,
                         [sys.executable, str(BENCH / "tui_floor_app.py")]))
    times: dict[str, list[float]] = {label: [] for label, *_rest in programs}
    opened: dict[str, list[float]] = {label: [] for label, *_rest in programs}
    cpu: dict[str, list[float]] = {label: [] for label, *_rest in programs}
    loads: list[float] = []
    for index in range(runs + 1):
        loads.append(os.getloadavg()[0])
        # Each round starts with the next program: none always follows the same one
        # (Codex's daemon is stopped after its run, which takes a moment).
        turn = index % len(programs)
        for offset in range(len(programs)):
            number = (turn + offset) % len(programs)
            label, who, root, argv = programs[number]
            home_var = "LLMX_HOME" if who is None else "CODEX_HOME"
            home = home_for(scratch, f"start-{number}-{home_var}", index, base_url, project,
                            fresh=fresh)
            env = environment(home_var, home)
            env["PYTHONPATH"] = str(root)
            with Pane(argv, env, project) as pane:
                seconds = pane.wait_for(composer_ready(who), "a ready composer")
                used = ready_cpu(pane, home)
                open_seconds = pane.wait_for(session_open(who, "mock-model"), "the session")
            done_with(home, fresh=fresh)
            if index:  # the first round warms the page cache (and the homes)
                times[label].append(seconds)
                opened[label].append(open_seconds)
                cpu[label].append(used)
    print(f"load over the rounds {min(loads):.2f}-{max(loads):.2f}", flush=True)
    for label, *_rest in programs:
        print(summary(f"{label}: start to a ready composer", times[label], "s"), flush=True)
        print(summary(f"{label}: start, CPU time to ready", cpu[label], "s"), flush=True)
        print(summary(f"{label}: start to the session open", opened[label], "s"), flush=True)


def last_answer(path: Path) -> tuple[str, str]:
    """The last answer of a rollout (its first words) and its last model. The answer is
    the last assistant message of the model's history (Codex 0.169 records no
    ``agent_message`` event, only that and an ``item_completed``); without one there is
    nothing to wait for on screen, so it is an error."""
    answer, model = "", ""
    with path.open(encoding="utf-8") as lines:
        for text in lines:
            line = json.loads(text)
            payload = line["payload"]
            if line["type"] == "turn_context":
                model = payload["model"]
            elif payload.get("type") == "agent_message":
                answer = payload["message"]
            elif (line["type"] == "response_item" and payload.get("type") == "message"
                  and payload.get("role") == "assistant"):
                answer = "".join(part.get("text", "") for part in payload["content"])
    if not answer.split():
        raise SystemExit(f"{path} has no answer to wait for on screen")
    return " ".join(answer.split()[:4]), model


def bench_resume(scratch: Path, project: Path, base_url: str, megabytes: float, runs: int,
                 codex: str | None, *, fresh: bool) -> None:
    pristine = scratch / "pristine.jsonl"
    rollout = generate_rollout(pristine, int(megabytes * 1_000_000), cwd=project)
    answer, model = last_answer(pristine)
    for who in (None, codex) if codex else (None,):
        home_var = "LLMX_HOME" if who is None else "CODEX_HOME"
        times: list[float] = []
        peaks: list[float] = []
        opened: list[float] = []
        cpu: list[float] = []
        for index in range(runs + 1):
            home = home_for(scratch, f"resume-{home_var}", index, base_url, project,
                            fresh=fresh)
            # The pristine file each time: a resume may append to it.
            target = rollout_path_for(home, rollout.thread_id, STARTED)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(pristine, target)
            ready, is_open = composer_ready(who), session_open(who, model)
            with Pane(program(who, "resume", rollout.thread_id),
                      environment(home_var, home), project) as pane:
                seconds = pane.wait_for(
                    lambda screen, ready=ready: answer in screen and ready(screen),
                    "the resumed session's composer")
                cpu.append(ready_cpu(pane, home))
                opened.append(pane.wait_for(
                    lambda screen, is_open=is_open: answer in screen and is_open(screen),
                    "the resumed session"))
                daemons = helpers_of(pane, home)
                peak = memory_mib(pane.pid(), *daemons)
            done_with(home, fresh=fresh)
            if index:  # the first run warms the page cache (and the home)
                times.append(seconds)
                peaks.append(peak)
            else:
                del cpu[-1], opened[-1]
        label = "llmx" if who is None else "codex"
        size = f"{rollout.size / 1e6:.0f} MB"
        print(summary(f"{label}: resume {size} to a ready composer", times, "s"), flush=True)
        print(summary(f"{label}: resume {size}, CPU time to ready", cpu, "s"), flush=True)
        print(summary(f"{label}: resume {size} to the session open", opened, "s"), flush=True)
        print(summary(f"{label}: resume {size}, peak RSS once open", peaks, "MiB"), flush=True)
    pristine.unlink()


def bench_keys(scratch: Path, project: Path, keys: int, codex: str | None,
               methods: list[str], compare: Path | None) -> None:
    """For each method in turn: the floor (``cat``), llmx, llmx of ``compare`` (another
    checkout) and Codex, each in a pane of its own while the model streams."""
    # Lines of ten words: Codex's TUI shows a streamed answer a line at a time.
    words = "".join(f"w{index}" + ("\n" if index % 10 == 9 else " ")
                    for index in range(STREAMED_WORDS))
    script = {"turns": [], "fallback": {"items": [{"type": "message", "text": words}],
                                        "chunk_delay": CHUNK_DELAY_S}}
    server = ModelServerProcess.start(scratch, script)
    programs: list[tuple[str, str | None, Path]] = [("llmx", None, ROOT)]
    if compare is not None:
        programs.append((f"llmx ({compare.name})", None, compare))
    if codex:
        programs.append(("codex", codex, ROOT))
    try:
        for method in methods:
            with Pane(["cat"], {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                "TERM": "xterm-256color"}, project) as pane:
                time.sleep(0.5)
                floor = [latency for _sent, latency in type_keys(pane, keys, method)]
            print(summary(f"tmux floor ({method}): keystroke to screen, cat in a pane",
                          floor, "ms", scale=1000)
                  + f", p99 {p99(floor) * 1000:.1f} ms, load {os.getloadavg()[0]:.2f}",
                  flush=True)
            for label, who, root in programs:
                keys_of(scratch, project, server.base_url, keys, method, label, who, root)
    finally:
        server.stop()


def keys_of(scratch: Path, project: Path, base_url: str, keys: int, method: str,
            label: str, who: str | None, root: Path) -> None:
    """One program's keys while the model streams (llmx under the probe, from ``root``)."""
    home_var = "LLMX_HOME" if who is None else "CODEX_HOME"
    home = scratch / f"keys-{home_var}"
    config(home, base_url, project)
    probe = scratch / "keys-probe.json"
    argv = program(who) if who else [sys.executable, os.environ.get(
        "BENCH_TUI_PROBE", str(BENCH / "tui_key_probe.py")), str(probe)]
    env = environment(home_var, home)
    env["PYTHONPATH"] = str(root)
    with Pane(argv, env, project) as pane:
        sent, latencies, still, busy = measure_keys(pane, home, keys, method)
        if who is None:
            quit_llmx(pane)
    stop_daemons(home)
    shutil.rmtree(home, ignore_errors=True)
    print(summary(f"{label}: keystroke to screen while streaming (tmux, {method})",
                  latencies, "ms", scale=1000) + f", p99 {p99(latencies) * 1000:.1f} ms, "
          f"{'still streaming' if still else 'stream ended'} at the last key, "
          f"CPU {busy * 100:.0f}% of a core meanwhile, load {os.getloadavg()[0]:.2f}",
          flush=True)
    if who is None:
        report_probe(probe, sent, latencies, label, method)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def quit_llmx(pane: Pane) -> None:
    """Ctrl-C until llmx has ended by itself (the probe writes its figures then)."""
    pid = pane.pid()
    deadline = time.monotonic() + WAIT_S
    while Path(f"/proc/{pid}").exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"llmx did not quit:\n{pane.screen()}")
        pane.send_key("C-c")
        time.sleep(0.3)


def report_probe(probe: Path, sent: list[float], latencies: list[float], label: str,
                 method: str) -> None:
    """The in-process figures of ``tui_key_probe``: from the key read to the frame
    written, from the key sent (by tmux send-keys) to the frame written, and from the
    frame written (handed to Textual's writer thread) to tmux showing it (measured
    through control mode only: polling adds its own delay)."""
    keys = json.loads(probe.read_text())[-len(sent):]
    if len(keys) != len(sent) or any(key[3] is None for key in keys):
        raise SystemExit(f"the probe saw {len(keys)} of the {len(sent)} keys sent")
    inside = [written - read for _char, read, _handled, written in keys]
    handled = [done - read for _char, read, done, _written in keys]
    outside = [key[3] - at for key, at in zip(keys, sent, strict=True)]
    after = [at + latency - key[3] for key, at, latency in zip(keys, sent, latencies,
                                                               strict=True)]
    figures = [("read to frame written", inside), ("read to handled by the composer", handled),
               ("sent to frame written", outside)]
    if method == "control":
        figures.append(("frame written to shown by tmux", after))
    for name, values in figures:
        print(summary(f"{label}: keystroke, {name}", values, "ms", scale=1000)
              + f", p99 {p99(values) * 1000:.1f} ms", flush=True)


# Keys typed before the composer is emptied again (the typed text stays on one row).
KEYS_PER_ROW = 40


ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def type_keys(pane: Pane, keys: int, method: str) -> list[tuple[float, float]]:
    """Type ``keys`` keys one at a time (a, b, c, ...), 50 ms apart: for each, when it
    was sent and the seconds until the pane showed it, measured by ``method``
    (``control`` or ``poll``). Every :data:`KEYS_PER_ROW` keys the text is erased with
    Backspace (not timed)."""
    if method == "poll":
        return type_keys_polling(pane, keys)
    control = Control(pane)
    try:
        return type_keys_control(control, keys)
    finally:
        control.close()


def type_keys_polling(pane: Pane, keys: int) -> list[tuple[float, float]]:
    """The first method: ``tmux send-keys``, then ``capture-pane`` until the key shows."""
    timed: list[tuple[float, float]] = []
    typed = ""
    for index in range(keys):
        if len(typed) == KEYS_PER_ROW:
            pane.send_key("BSpace", repeat=len(typed))
            pane.wait_for(lambda screen: ALPHABET[:5] not in screen, "the emptied composer")
            typed = ""
            time.sleep(0.2)
        typed += ALPHABET[index % KEYS_PER_ROW % 26]
        sent = time.perf_counter()
        pane.send_literal(typed[-1])
        deadline = time.monotonic() + WAIT_S
        while typed not in pane.screen():
            if time.monotonic() > deadline:
                raise SystemExit(f"key {index} never appeared:\n{pane.screen()}")
        timed.append((sent, time.perf_counter() - sent))
        time.sleep(0.05)
    return timed


def type_keys_control(control: Control, keys: int) -> list[tuple[float, float]]:
    """Through a control-mode client: each key sent by it, dated by the output that drew
    it (see the module's docstring)."""
    timed: list[tuple[float, float]] = []
    typed = ""
    control.idle(0.1)
    for index in range(keys):
        if len(typed) == KEYS_PER_ROW:
            control.command(f"send-keys -t 0 -N {len(typed)} BSpace")
            deadline = time.monotonic() + WAIT_S
            while ALPHABET[:5] in control.screen():
                if time.monotonic() > deadline:
                    raise SystemExit("the composer was not emptied")
                control.idle(0.005)
            typed = ""
            control.idle(0.2)
        typed += ALPHABET[index % KEYS_PER_ROW % 26]
        control.look_for(typed[-1])
        sent = control.command(f"send-keys -t 0 -l {typed[-1]}")
        timed.append((sent, wait_for_key(control, typed, index) - sent))
        control.look_for("")
        control.idle(0.05)
    return timed


def wait_for_key(control: Control, typed: str, index: int) -> float:
    """When the output that drew the last key of ``typed`` came."""
    deadline = time.monotonic() + WAIT_S
    while True:
        while control.replies:
            screen, answered, watched = control.replies.pop(0)
            if typed in screen:
                return answered if watched is None else watched
        if time.monotonic() > deadline:
            raise SystemExit(f"key {index} never appeared:\n{control.screen()}")
        control.pump(deadline - time.monotonic())


def measure_keys(pane: Pane, home: Path, keys: int,
                 method: str) -> tuple[list[float], list[float], bool, float]:
    """Keys typed one at a time while the answer streams: when each was sent, its
    latency to the screen, whether the stream was still running at the last, and the
    CPU share used meanwhile."""
    pane.wait_for(lambda screen: "for shortcuts" in screen or "mock-model ·" in screen,
                  "the open session")
    pane.send_literal("stream")
    # Apart from the text: Codex takes a key right after others for a paste.
    time.sleep(0.5)
    pane.send_key("Enter")
    pane.wait_for(lambda screen: "w45 " in screen, "the streamed answer")
    latencies: list[float] = []
    sent_at: list[float] = []
    pids = (pane.pid(), *helpers_of(pane, home))
    cpu_before, wall_before = cpu_seconds(*pids), time.perf_counter()
    for sent, latency in type_keys(pane, keys, method):
        sent_at.append(sent)
        latencies.append(latency)
    still = f"w{STREAMED_WORDS - 1}" not in pane.screen()
    busy = (cpu_seconds(*pids) - cpu_before) / (time.perf_counter() - wall_before)
    return sent_at, latencies, still, busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--megabytes", type=float, default=100.0)
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--codex", help="path of a codex binary to compare with")
    parser.add_argument("--only", choices=("start", "resume", "keys"))
    parser.add_argument("--keys-by", choices=("control", "poll", "both"), default="control",
                        help="how a key's arrival on screen is seen: tmux control mode's "
                        "output notifications (default) or polling capture-pane (the "
                        "first method); both: one then the other")
    parser.add_argument("--compare", type=Path, metavar="CHECKOUT",
                        help="also measure llmx from another checkout (another commit): its "
                        "start-up interleaved with this one's, its keys right after")
    parser.add_argument("--floor", action="store_true",
                        help="also start a bare Textual app (tui_floor_app.py) in the "
                        "start-up rounds: the floor of Python and Textual")
    parser.add_argument("--fresh-home", action="store_true",
                        help="a new home for every run (nothing cached in it), instead of "
                        "one home used by every run after a warm-up")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("bench_tui needs tmux")
    print(f"machine: {os.cpu_count()} cores, kernel {platform.release()}, "
          f"Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}", flush=True)
    # Homes beside the checkout, as bench_app_server keeps them (not under /tmp).
    compare = args.compare.resolve() if args.compare else None
    with tempfile.TemporaryDirectory(dir=ROOT, prefix=".bench-") as tmp:
        scratch = Path(tmp)
        project = scratch / "project"
        project.mkdir()
        subprocess.run(["git", "init", "-q", str(project)], check=True, timeout=WAIT_S)
        script = {"turns": [], "fallback": [{"type": "message", "text": "hi"}]}
        server = ModelServerProcess.start(scratch, script)
        try:
            if args.only in (None, "start"):
                bench_start(scratch, project, server.base_url, args.runs, args.codex,
                            compare, fresh=args.fresh_home, floor=args.floor)
            if args.only in (None, "resume"):
                bench_resume(scratch, project, server.base_url, args.megabytes, args.runs,
                             args.codex, fresh=args.fresh_home)
        finally:
            server.stop()
        if args.only in (None, "keys"):
            methods = ["control", "poll"] if args.keys_by == "both" else [args.keys_by]
            bench_keys(scratch, project, args.keys, args.codex, methods, compare)
    print(f"load at the end {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
