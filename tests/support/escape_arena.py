"""The escape suite's arena: a workspace, the host's things around it, and the evidence.

Layout under ``base``: ``scratch/`` is a writable root holding ``nest/ws/`` (the
workspace and cwd, a git repository with ``.agents``), so the workspace sits inside another
writable root as it does under ``/tmp``; ``outside/`` is the host's, with a file per
attempt where the attempt changes an existing one. Around it: listeners of every socket
kind, a *holder* process (secrets in its memory, environment and command line, files open,
signal handlers), a *victim* process, keys in the caller's keyrings, a terminal the command
runs on and another it must not reach, kernel settings to watch, and descriptors passed
down. ``run`` starts one route with the probe and returns the ``Evidence``: what the host
sees afterwards. The probe's own report is logged, never believed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import time
import tty
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from support import host_kernel
from support.escape_listeners import Listeners
from support.waits import WAIT_SECONDS, wait_readable

PROBE = Path(__file__).resolve().parent.parent / "sandbox" / "probes" / "escape"
PYTHON = sys.executable
# The caller's secret environment variable (the policy drops names holding TOKEN).
CALLER_SECRET_NAME = "LLMX_ESCAPE_TOKEN"
KNOBS = {
    "sysctl_domainname": "/proc/sys/kernel/domainname",
    "klogctl_console_level": "/proc/sys/kernel/printk",
    "sysctl_printk_ratelimit": "/proc/sys/kernel/printk_ratelimit",
    "sysctl_net_port_range": "/proc/sys/net/ipv4/ip_local_port_range",
    "sysfs_knob_write": "/sys/kernel/mm/transparent_hugepage/khugepaged/pages_to_scan",
}

_HOLDER = r"""
import json, os, signal, sys, time
mem = sys.stdin.readline().strip().encode() + b"!"
out = sys.argv[2]
signals = os.open(os.path.join(out, "holder-signals.txt"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
def record(signum, frame):
    os.write(signals, b"%d\n" % signum)
for signum in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGRTMIN + 3):
    signal.signal(signum, record)
fds = {name: os.open(os.path.join(out, name + ".txt"), os.O_RDWR | os.O_APPEND)
       for name in ("proc_holder_fd", "pidfd_getfd_holder")}
os.chdir(out)
print(json.dumps({"address": id(mem) + bytes.__basicsize__ - 1, "length": len(mem) - 1,
                  "fds": fds}), flush=True)
while True:
    time.sleep(3600)
"""


# Machine-wide: the lock that serialises runs touching kernel settings, and the journal
# of the settings a run found.
# The lock is every user's (the landlock backend's tests run as nobody beside root's);
# the journal is per user, since only root can change the settings it records.
_LOCK = Path(tempfile.gettempdir()) / "llmx-escape-suite.lock"
_JOURNAL = Path(tempfile.gettempdir()) / f"llmx-escape-suite.settings.{os.getuid()}.json"


def _restore(knobs: dict[str, str], esterror: int) -> None:
    for name, path in KNOBS.items():
        if name in knobs and _read(path) != knobs[name]:
            with contextlib.suppress(OSError), open(path, "w") as f:
                f.write(knobs[name])
    if host_kernel.clock_esterror() != esterror:
        with contextlib.suppress(OSError):
            host_kernel.clock_esterror(esterror)


@contextlib.contextmanager
def _host_settings_lock() -> Iterator[None]:
    fd = os.open(_LOCK, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o644)  # one made before it was shared; only its owner can
    try:
        deadline = time.monotonic() + 4 * WAIT_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"gave up waiting for {_LOCK}") from None
                time.sleep(0.05)
        with contextlib.suppress(OSError, ValueError, KeyError):
            stale = json.loads(_JOURNAL.read_text())
            _restore(stale["knobs"], int(stale["esterror"]))  # a run killed mid-way
        yield
    finally:
        os.close(fd)


def _secret() -> str:
    return secrets.token_hex(12)


@dataclass
class Evidence:
    """What the host finds after one run; ``judge``s read only this."""

    arena: Arena
    output: bytes
    exit_code: int
    received: dict[str, list[bytes]]
    tty_input: bytes
    tty_output: bytes
    other_output: bytes
    other_input: bytes
    knobs: dict[str, str]
    esterror: int
    holder_signals: set[int]
    holder_nice: int
    holder_core_limit: str
    victim_alive: bool
    sleepers: list[int]
    session_keys: dict[int, str]
    user_keys: dict[int, str]
    kernel_log: bytes
    loopback: str
    probe_log: str = ""
    _tree: list[Path] | None = field(default=None, repr=False)

    def mark(self, attempt: str) -> str:
        return f"{self.arena.token}:{attempt}"

    def leaked(self, secret: str) -> bool:
        value = self.arena.secrets[secret]
        return value in self.output.decode(errors="replace")

    def holds_mark(self, path: Path, attempt: str) -> bool:
        try:
            return self.mark(attempt) in path.read_text(errors="replace")
        except OSError:
            return False

    def changed(self, path: Path) -> bool:
        return _fingerprint(path) != self.arena.fingerprints[path]

    def tree(self) -> list[Path]:
        """Everything under the arena's base (after the run), links not followed."""
        if self._tree is None:
            found = []
            for root, dirs, files in os.walk(self.arena.base):
                found += [Path(root, name) for name in dirs + files]
            self._tree = found
        return self._tree

    def named(self, name: str, parent: str | None = None) -> list[Path]:
        return [p for p in self.tree() if p.name == name
                and (parent is None or p.parent.name == parent)]

    def got(self, listener: str, attempt: str) -> bool:
        mark = self.mark(attempt).encode()
        return any(mark in data for data in self.received.get(listener, []))


def _fingerprint(path: Path) -> tuple[object, ...] | None:
    try:
        st = path.lstat()
        xattrs = tuple(sorted(os.listxattr(path, follow_symlinks=False)))
        return (path.read_bytes(), st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, xattrs)
    except OSError:
        return None


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _drain(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except (BlockingIOError, OSError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _read_until_done(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    """``proc``'s stderr until EOF, or until a few seconds after it exited (something that
    escaped may hold the pipe); after ``timeout`` its whole group is killed."""
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            deadline = min(deadline, time.monotonic() + 3)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=WAIT_SECONDS)
            break
        ready, _, _ = select.select([fd], [], [], min(remaining, 0.2))
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    proc.wait(timeout=WAIT_SECONDS)
    proc.stderr.close()
    return b"".join(chunks)


def _pty() -> tuple[int, int]:
    """A pseudo-terminal in raw mode (typed-in bytes readable at once, none echoed)."""
    main, follower = os.openpty()
    tty.setraw(follower)
    for fd in (main, follower):
        os.set_blocking(fd, False)
    return main, follower


class Arena:
    """One arena per route run (see the module docstring)."""

    def __init__(self, base: Path, *, unchanged: list[str], needs_dir: list[str],
                 protects_metadata: bool = True) -> None:
        self.base = base
        # False when the plan leaves .git and co. writable (the landlock backend's): then
        # writing them is no escape.
        self.protects_metadata = protects_metadata
        self.token = f"{os.getpid()}x{secrets.token_hex(4)}"
        self.outside = base / "outside"
        self.scratch = base / "scratch"
        self.nest = self.scratch / "nest"
        self.ws = self.nest / "ws"
        self.home = base / "home"
        self.tmp = base / "tmp"
        for folder in (self.outside, self.ws, self.home, self.tmp, base / "sockets"):
            folder.mkdir(parents=True)
        subprocess.run(["git", "init", "-q", str(self.ws)], check=True, timeout=WAIT_SECONDS)
        subprocess.run(["git", "-C", str(self.ws), "-c", "user.name=t", "-c",
                        "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m",
                        "first"], check=True, timeout=WAIT_SECONDS)
        (self.ws / ".agents").mkdir()
        (self.ws / ".agents" / "skill.md").write_text("original\n")
        for name in unchanged:
            (self.outside / f"{name}.txt").write_text("original\n")
        for name in needs_dir:
            (self.outside / name).mkdir()
        (self.outside / "dirfd").mkdir()
        self.secrets = {name: _secret() for name in (
            "holder_mem", "holder_env", "holder_cmdline", "caller_env", "kmsg",
            "key_session", "key_session_desc", "key_known", "key_user")}
        self.knob_values = {
            "sysctl_domainname": f"llmx-sysctl-{self.token}"[:60],
            "klogctl_console_level": "3",
            "sysctl_printk_ratelimit": "4242", "sysctl_net_port_range": "32769\t60998",
            "sysfs_knob_write": "4243", "adjtimex_esterror": "424242"}
        self.detach_seconds = f"{4000 + secrets.randbelow(1000)}.{os.getpid()}"
        self.netlink_address = f"127.77.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 1}"
        self.fingerprints: dict[Path, tuple[object, ...] | None] = {}
        self._cleanups: list[Callable[[], None]] = []

    # -- set-up ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """The host's side exists while this is entered; everything is undone after.

        Kernel settings are the whole machine's: one run at a time, machine-wide (another
        checkout's suite may run beside this one), and what they were is journalled
        first, so that a run killed before its clean-up is undone by the next one.
        """
        with _host_settings_lock():
            try:
                self._start()
                yield
            finally:
                for cleanup in reversed(self._cleanups):
                    with contextlib.suppress(Exception):
                        cleanup()

    def _start(self) -> None:
        self.listeners = Listeners(str(self.base / "sockets"), self.token)
        self._cleanups.append(self.listeners.close)
        self._start_holders()
        self._start_keys()
        self.main, self.follower = _pty()
        self.other_main, self.other_follower = _pty()
        for fd in (self.main, self.follower, self.other_main, self.other_follower):
            self._cleanups.append(lambda fd=fd: os.close(fd))
        self.other_pty = os.ttyname(self.other_follower)
        self.knobs_before = {name: _read(path) for name, path in KNOBS.items()}
        self.esterror_before = host_kernel.clock_esterror()
        _JOURNAL.write_text(json.dumps({"knobs": self.knobs_before,
                                        "esterror": self.esterror_before}))
        self._cleanups.append(self._restore_settings)
        host_kernel.log_to_kernel(f"llmx-escape-kmsg-{self.secrets['kmsg']}")
        self._cleanups.append(self._remove_leftovers)
        for path in sorted(self.outside.glob("*.txt")):
            self.fingerprints[path] = _fingerprint(path)

    def _start_holders(self) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "HOLDER_SECRET": self.secrets["holder_env"]}
        (self.outside / "proc_holder_fd.txt").write_text("original\n")
        (self.outside / "pidfd_getfd_holder.txt").write_text("original\n")
        self.holder = subprocess.Popen(
            [PYTHON, "-c", _HOLDER, self.secrets["holder_cmdline"], str(self.outside)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
        self._cleanups.append(self._stop_holder)
        assert self.holder.stdin is not None
        assert self.holder.stdout is not None
        self.holder.stdin.write(self.secrets["holder_mem"] + "\n")
        self.holder.stdin.flush()
        wait_readable(self.holder.stdout.fileno(), "the holder process to report itself")
        self.holder_info = json.loads(self.holder.stdout.readline())
        self.victim = subprocess.Popen(["sleep", "600"])
        self._cleanups.append(lambda: (self.victim.kill(),
                                       self.victim.wait(timeout=WAIT_SECONDS)))
        self.holder_nice = os.getpriority(os.PRIO_PROCESS, self.holder.pid)

    def _stop_holder(self) -> None:
        self.holder.kill()
        self.holder.wait(timeout=WAIT_SECONDS)
        for pipe in (self.holder.stdin, self.holder.stdout):
            if pipe is not None:
                pipe.close()

    def _start_keys(self) -> None:
        self.keys_ok = True
        try:
            host_kernel.join_fresh_session_keyring()
            s = self.secrets
            host_kernel.add_key(f"llmx-escape-s-{s['key_session_desc']}", s["key_session"],
                                host_kernel.SESSION_KEYRING)
            host_kernel.add_key(f"llmx-escape-known-{self.token}", s["key_known"],
                                host_kernel.SESSION_KEYRING)
            user_key = host_kernel.add_key(f"llmx-escape-u-{self.token}", s["key_user"],
                                           host_kernel.USER_KEYRING)
            self._cleanups.append(lambda: host_kernel.unlink_key(user_key,
                                                                  host_kernel.USER_KEYRING))
        except OSError:
            self.keys_ok = False  # no keyrings here: those attempts cannot land either

    def _restore_settings(self) -> None:
        _restore(self.knobs_before, self.esterror_before)
        _JOURNAL.unlink(missing_ok=True)

    def _remove_leftovers(self) -> None:
        for folder in ("/etc", "/", "/var/tmp", "/dev/shm"):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, f"llmx-escape-{self.token}"))
        with contextlib.suppress(OSError):
            subprocess.run(["umount", "-l", str(self.outside / "mount_host_ns")],
                           capture_output=True, check=False, timeout=WAIT_SECONDS)
        if self.netlink_address in host_kernel.loopback_addresses():
            host_kernel.drop_loopback_address(self.netlink_address)
        for pid in self.sleepers():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for key, description in host_kernel.key_descriptions(host_kernel.USER_KEYRING).items():
            if self.token in description:
                host_kernel.unlink_key(key, host_kernel.USER_KEYRING)

    # -- the run ----------------------------------------------------------------------------

    def context(self) -> dict[str, object]:
        return {
            "token": self.token, "ws": str(self.ws), "scratch": str(self.scratch),
            "outside": str(self.outside), "nest": str(self.nest),
            "dotdot": os.path.relpath(self.outside, self.ws),
            "holder_pid": self.holder.pid, "holder_address": self.holder_info["address"],
            "holder_length": self.holder_info["length"], "holder_fds": self.holder_info["fds"],
            "victim_pid": self.victim.pid, "ports": self.listeners.ports,
            "unix": self.listeners.paths, "other_pty": self.other_pty,
            "knob_values": self.knob_values, "sysfs_knob": KNOBS["sysfs_knob_write"],
            "netlink_address": self.netlink_address,
            "known_key": f"llmx-escape-known-{self.token}",
            "detach_seconds": self.detach_seconds,
        }

    def probe_command(self, attempts: list[str]) -> list[str]:
        return [PYTHON, "-S", "-E", "-s", str(PROBE), json.dumps(self.context()), *attempts]

    def caller_env(self) -> dict[str, str]:
        """The environment of the process that starts the sandbox."""
        return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
                "HOME": str(self.home), "LLMX_HOME": str(self.home), "TMPDIR": str(self.tmp),
                CALLER_SECRET_NAME: self.secrets["caller_env"]}

    def run(self, argv: list[str], *, env: dict[str, str] | None = None,
            timeout: float = 240) -> Evidence:
        """Start ``argv`` as the user's shell would: on a terminal it controls (stdout),
        stdin a file it may only read, and some of the caller's descriptors inherited."""
        for name in ("stdin_reopen_write", "inherited_fd_write", "inherited_fd_reopen"):
            path = self.outside / f"{name}.txt"
            path.write_text("original\n")
            self.fingerprints[path] = _fingerprint(path)
        stdin_file = self.outside / "stdin_reopen_write.txt"
        passed, peer = self._passed_descriptors()
        follower = self.follower

        def controlling_terminal() -> None:
            fcntl.ioctl(1, termios.TIOCSCTTY, 0)

        with open(stdin_file, "rb") as stdin:
            proc = subprocess.Popen(
                argv, stdin=stdin, stdout=follower, stderr=subprocess.PIPE,
                env=self.caller_env() if env is None else env, cwd=self.ws,
                pass_fds=tuple(passed), start_new_session=True,
                preexec_fn=controlling_terminal)
        try:
            err = _read_until_done(proc, timeout)
        finally:
            for fd in passed:
                os.close(fd)
        return self._evidence(proc.returncode, err, peer)

    def _passed_descriptors(self) -> tuple[list[int], int]:
        """Descriptors the caller holds and a careless sandbox would pass on (a file open
        for writing, one open read-only, a folder, one end of a socket pair), and the
        socket pair's other end, which the host keeps."""
        out = self.outside
        write_fd = os.open(out / "inherited_fd_write.txt", os.O_WRONLY | os.O_APPEND)
        read_fd = os.open(out / "inherited_fd_reopen.txt", os.O_RDONLY)
        dir_fd = os.open(out / "dirfd", os.O_RDONLY | os.O_DIRECTORY)
        ours, theirs = socket.socketpair()
        return [write_fd, read_fd, dir_fd, theirs.detach()], ours.detach()

    def _evidence(self, code: int, err: bytes, peer: int) -> Evidence:
        tty_output = _drain(self.main)
        os.set_blocking(peer, False)
        from_socket = _drain(peer)
        os.close(peer)
        received = self.listeners.collect()
        received["inherited_socket"] = [from_socket]
        holder = self.holder.pid
        stat = _read(f"/proc/{holder}/stat").rsplit(")", 1)[-1].split()
        limits = [line for line in _read(f"/proc/{holder}/limits").splitlines()
                  if line.startswith("Max core file size")]
        signals = {int(n) for n in _read(str(self.outside / "holder-signals.txt")).split()}
        session: dict[int, str] = {}
        user: dict[int, str] = {}
        if self.keys_ok:
            session = host_kernel.key_descriptions(host_kernel.SESSION_KEYRING)
            user = host_kernel.key_descriptions(host_kernel.USER_KEYRING)
        log = err.decode(errors="replace")
        return Evidence(
            arena=self, output=err + tty_output, exit_code=code, received=received,
            tty_input=_drain(self.follower), tty_output=tty_output,
            other_output=_drain(self.other_main),
            other_input=_drain(self.other_follower),
            knobs={name: _read(path) for name, path in KNOBS.items()},
            esterror=host_kernel.clock_esterror(), holder_signals=signals,
            holder_nice=int(stat[16]) if len(stat) > 16 else 0,
            holder_core_limit=limits[0] if limits else "",
            victim_alive=self.victim.poll() is None,
            sleepers=self.sleepers(), session_keys=session, user_keys=user,
            kernel_log=host_kernel.kernel_log(), loopback=host_kernel.loopback_addresses(),
            probe_log=log)

    def sleepers(self) -> list[int]:
        """Live processes started by ``detach_sleeper`` (none may outlive the sandbox)."""
        found = []
        for entry in Path("/proc").iterdir():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if self.detach_seconds.encode() in cmdline and state != "Z":
                found.append(int(entry.name))
        return found
