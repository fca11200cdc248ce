"""The real ``llmx`` over ssh: a private sshd on a free loopback port (a throwaway host
key, a key-only login for the user running the tests, everything in the test's temporary
folder), and ``ssh -tt`` in a tmux pane running llmx on the far side: a prompt, its
answer, and quitting, read from the screen the ssh client shows."""

from __future__ import annotations

import getpass
import grp
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.model_server import scripted
from support.tmux import Tmux, needs_tmux
from support.waits import WAIT_SECONDS
from tui.live_harness import API_KEY_ENV, make_home, make_workspace

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
SSH = shutil.which("ssh")
SSH_KEYGEN = shutil.which("ssh-keygen")
PRIVSEP = Path("/run/sshd")


def _tty_gid_unreachable() -> int | None:
    """The tty group's id when sshd, run by this user (not root), cannot give its
    terminal to that group, as it insists on (else it ends the session); None if it can.

    A terminal of /dev/pts belongs to the group that devpts was mounted with (``gid=5`` on
    most systems: tty), else to the group of the process that opened it; only root may
    give a file to a group it is not in."""
    try:
        tty = grp.getgrnam("tty").gr_gid
    except KeyError:
        return None  # sshd then keeps the user's own group
    if tty == os.getgid() or tty in os.getgroups():
        return None
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[1:3] == ["/dev/pts", "devpts"] \
                and f"gid={tty}" in fields[3].split(","):
            return None
    return tty


def _missing() -> str | None:
    if SSHD is None or SSH is None or SSH_KEYGEN is None:
        return "needs sshd, ssh and ssh-keygen (the openssh-server and openssh-client packages)"
    if os.geteuid() == 0 and not PRIVSEP.is_dir():
        return (f"sshd run by root needs its privilege separation folder {PRIVSEP} "
                f"(mkdir -m 755 {PRIVSEP})")
    tty = _tty_gid_unreachable() if os.geteuid() != 0 else None
    if tty is not None:
        return (f"sshd run by a user other than root must give its terminal to the tty group "
                f"({tty}), and cannot here: /dev/pts is mounted without gid={tty} (run the "
                "suite as root, or mount devpts with gid=5 as most systems do)")
    return None


pytestmark = [needs_tmux, pytest.mark.skipif(_missing() is not None, reason=_missing() or "")]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Sshd:
    """sshd in the foreground on 127.0.0.1:``port``, configured by files in ``folder``."""

    def __init__(self, folder: Path) -> None:
        assert SSHD is not None
        assert SSH_KEYGEN is not None
        folder.mkdir(mode=0o700)
        self.folder = folder
        self.host_key = folder / "host_key"
        self.client_key = folder / "client_key"
        for key in (self.host_key, self.client_key):
            subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                           check=True, timeout=WAIT_SECONDS)
        authorized = folder / "authorized_keys"
        authorized.write_text(self.client_key.with_suffix(".pub").read_text())
        authorized.chmod(0o600)
        self.port = _free_port()
        config = folder / "sshd_config"
        config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {authorized}", f"PidFile {folder / 'sshd.pid'}",
            "PubkeyAuthentication yes", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password",
            f"AllowUsers {getpass.getuser()}", "UsePAM no", "StrictModes no",
            "PrintMotd no", "PrintLastLog no", "X11Forwarding no", "AllowTcpForwarding no",
            "Subsystem sftp internal-sftp", "",
        ]))
        self.log = folder / "sshd.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                stderr=log, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + WAIT_SECONDS
        while not _listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"sshd did not start: {self.log.read_text()}")
            time.sleep(0.05)

    def ssh(self, remote: str) -> list[str]:
        """The client's command line for ``remote`` on a terminal of its own (-tt)."""
        assert SSH is not None
        return [SSH, "-tt", "-F", "/dev/null", "-p", str(self.port), "-i", str(self.client_key),
                "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", f"{getpass.getuser()}@127.0.0.1", remote]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=WAIT_SECONDS)


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    server = Sshd(tmp_path / "sshd")
    try:
        yield server
    finally:
        server.stop()


def test_a_prompt_and_its_answer_over_ssh(tmp_path: Path, sshd: Sshd) -> None:
    script = {"turns": [{"items": [{"type": "message", "text": "Hello from the far side."}]}],
              "fallback": [{"type": "message", "text": "Still here."}]}
    with scripted(script) as model:
        home = make_home(tmp_path, model.base_url)
        work = make_workspace(tmp_path)
        # The far side's environment is sshd's: what llmx needs is given on its command line.
        remote_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
                      "LLMX_HOME": str(home), API_KEY_ENV: "k"}
        remote = (f"cd {shlex.quote(str(work))} && exec env "
                  + " ".join(f"{k}={shlex.quote(v)}" for k, v in remote_env.items())
                  + f" {shlex.quote(sys.executable)} -m llmx")
        local_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                     "HOME": os.environ.get("HOME", "/"), "TERM": "screen-256color",
                     "LANG": "C.UTF-8"}
        with Tmux(sshd.ssh(remote), env=local_env, cwd=tmp_path, columns=100,
                  rows=30) as term:
            term.expect("mock-model ·")
            term.type("say hello")
            term.send("Enter")
            screen = term.expect("Hello from the far side.")
            assert "say hello" in screen
            term.expect("─ Worked for")
            term.send("C-c")
            term.expect("press ctrl+c again to quit")
            term.send("C-c")
            # llmx's exit status comes back through ssh.
            assert term.exit_status() == 0
        # It went through sshd: the key login is in its log.
        assert f"Accepted publickey for {getpass.getuser()}" in sshd.log.read_text()
        [rollout] = list(home.glob("sessions/*/*/*/rollout-*.jsonl"))
        assert "Hello from the far side." in rollout.read_text()
