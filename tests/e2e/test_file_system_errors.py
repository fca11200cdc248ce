"""A failing file system under ``$LLMX_HOME``: one line naming the path and what to do.

Real conditions, made by the test where the machine lets it: a tiny tmpfs for a full
disk, a read-only bind mount, files made unreadable for an unprivileged user (root reads
everything, so those commands run as ``nobody`` through ``setpriv``), a file where a
folder belongs and the reverse. Each command must end with one error line in the common
form, never a traceback, and lose nothing already written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.exec_harness import ExecEnv, make_env
from support import unprivileged
from support.model_scripts import Script
from support.model_server import ModelServer
from support.mounts import fill, read_only, tiny_tmpfs

from llmx.events.reader import RolloutReader

SCRIPT = {
    "turns": [{"match": "big", "items": [{"type": "message", "text": "b" * 400_000}]}],
    "fallback": [{"type": "message", "text": "fine"}],
}
ERROR = re.compile(r"^llmx (?P<command>[a-z]+(?: [a-z]+)?): (?P<what>.+) — (?P<todo>.+)$")


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer(Script.from_json(SCRIPT)) as running:
        yield running


@pytest.fixture
def tiny_home(tmp_path: Path, server: ModelServer) -> Iterator[ExecEnv]:
    """An exec environment whose home is a 1 MiB tmpfs."""
    env = make_env(tmp_path, server.base_url)
    with tiny_tmpfs(env.home):
        yield env


def llmx(env: ExecEnv, *args: str, user: str | None = None, python: str = sys.executable,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [python, "-m", "llmx", *args]
    environment = env.env()
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
        environment = unprivileged.environment_for_nobody(environment)
    return subprocess.run(
        command, capture_output=True, text=True, env=environment, cwd=cwd or env.workspace,
        stdin=subprocess.DEVNULL, timeout=120, check=False,
    )


def one_error(result: subprocess.CompletedProcess[str], command: str, named: Path) -> re.Match[str]:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    # Error lines only (exec's header starts with "llmx v0...").
    lines = [line for line in result.stderr.splitlines() if re.match(r"llmx [a-z ]+: ", line)]
    assert len(lines) == 1, result.stderr
    match = ERROR.match(lines[0])
    assert match is not None, lines[0]
    assert match["command"] == command
    assert str(named) in match["what"], lines[0]
    return match


def assert_intact(path: Path) -> None:
    reader = RolloutReader(path)
    ordinals = [line.ordinal for line in reader]
    assert reader.problems == []
    assert reader.torn_tail is None
    assert ordinals == list(range(len(ordinals)))


def test_a_full_disk_before_exec(tiny_home: ExecEnv) -> None:
    env = tiny_home
    assert llmx(env, "exec", "first").returncode == 0
    [kept] = env.rollouts()
    index = env.home / "state.sqlite"
    index_inode = index.stat().st_ino
    fill(env.home)
    refused = llmx(env, "exec", "second")
    match = one_error(refused, "exec", env.home / "sessions")
    assert "no space left" in match["what"]
    assert match["todo"] == "free some space there and retry"
    # No empty rollout left by the failed start; the earlier one is whole.
    assert env.rollouts() == [kept]
    assert_intact(kept)
    for command in (["sessions", "list"], ["sessions", "search", "first"],
                    ["exec", "resume", "--last", "third"]):
        result = llmx(env, *command)
        what = one_error(result, " ".join(command[:2]) if command[0] == "sessions" else "exec",
                         index)["what"]
        assert "no space left" in what
    # A full disk is not a damaged index: it was not deleted and made again.
    assert index.stat().st_ino == index_inode
    (env.home / "filler").unlink()
    listed = llmx(env, "sessions", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [row["preview"] for row in json.loads(listed.stdout)["data"]] == ["first"]


def test_a_full_disk_during_exec(tiny_home: ExecEnv) -> None:
    env = tiny_home
    fill(env.home, leave=64 << 10)  # room for a start, not for a 400 KB answer
    result = llmx(env, "exec", "big answer please")
    match = one_error(result, "exec", env.home / "sessions")
    assert "no space left" in match["what"]
    [rollout] = env.rollouts()
    assert_intact(rollout)
    assert "big answer please" in rollout.read_text()  # what was acknowledged is kept


@pytest.fixture
def read_only_home(tmp_path: Path, server: ModelServer) -> Iterator[ExecEnv]:
    env = make_env(tmp_path, server.base_url)
    result = subprocess.run(
        [sys.executable, "-m", "llmx", "exec", "written before"], capture_output=True,
        env=env.env(), cwd=env.workspace, stdin=subprocess.DEVNULL, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    with read_only(env.home):
        yield env


def test_a_read_only_home(read_only_home: ExecEnv) -> None:
    env = read_only_home
    [rollout] = env.rollouts()
    before = rollout.read_bytes()
    thread = rollout.name.removesuffix(".jsonl")[-36:]
    index = env.home / "state.sqlite"
    cases = [
        (["exec", "again"], "exec", env.home / "sessions"),
        (["exec", "resume", "--last", "more"], "exec", index),
        (["sessions", "list"], "sessions list", index),
        (["sessions", "search", "written"], "sessions search", index),
        (["sessions", "archive", thread], "sessions archive", index),
        (["sessions", "delete", thread, "--yes"], "sessions delete", index),
    ]
    for args, command, named in cases:
        match = one_error(llmx(env, *args), command, named)
        assert "read-only" in match["what"], match[0]
        assert "LLMX_HOME" in match["todo"]
        # Never the advice to delete the index: nothing is wrong with it.
        assert "delete" not in match["todo"]
    assert rollout.read_bytes() == before


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder under /tmp that another user may enter (pytest's own are 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="llmx-perm-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def test_permission_denied(shared_tmp: Path, server: ModelServer) -> None:
    """Files whose modes keep the running user out. Root reads and writes whatever the
    modes say, so as root the commands run as nobody on the files root made; as another
    user they run as that user, on files whose modes keep their owner out."""
    as_root = os.geteuid() == 0
    if as_root and shutil.which("setpriv") is None:
        pytest.skip("run as root, needs setpriv(1) to run the commands as another user "
                    "(root reads files whatever their mode)")
    env = make_env(shared_tmp, server.base_url)
    assert llmx(env, "exec", "mine").returncode == 0
    [rollout] = env.rollouts()
    if as_root:
        # Run from wherever this checkout is: a copy nobody reaches if it is out of reach.
        python = unprivileged.interpreter_for_nobody(shared_tmp / "python")
        if python is None:
            pytest.skip("no Python interpreter the unprivileged user can run")
        subprocess.run(["chmod", "-R", "a+rX", str(shared_tmp)], check=True, timeout=60)
        user: str | None = "65534"  # nobody
        # A session file only its owner may read.
        rollout.chmod(0o600)
    else:
        python, user = sys.executable, None
        rollout.chmod(0o000)
    try:
        replayed = llmx(env, "replay", str(rollout), user=user, python=python, cwd=shared_tmp)
        assert "permission denied" in one_error(replayed, "replay", rollout)["what"]
        if not as_root:
            # Everything of the home readable, nothing writable, as it is to nobody above.
            rollout.chmod(0o600)
            subprocess.run(["chmod", "-R", "a-w", str(env.home)], check=True, timeout=60)
        # The index, readable but not writable by this user.
        listed = llmx(env, "sessions", "list", user=user, python=python, cwd=shared_tmp)
        assert "permission denied" in one_error(listed, "sessions list", env.home)["what"]
        # A home this user cannot write to.
        ran = llmx(env, "exec", "--skip-git-repo-check", "theirs", user=user, python=python,
                   cwd=shared_tmp)
        match = one_error(ran, "exec", env.home)
        assert "permission denied" in match["what"]
        assert match["todo"] == "check the owner and mode of that path"
    finally:
        # What the fixture removes.
        subprocess.run(["chmod", "-R", "u+rwX", str(shared_tmp)], check=True, timeout=60)


def test_sessions_is_a_file(tmp_path: Path, server: ModelServer) -> None:
    env = make_env(tmp_path, server.base_url)
    (env.home / "sessions").write_text("not a folder")
    for args, command in ((["exec", "hi"], "exec"), (["sessions", "list"], "sessions list"),
                          (["exec", "resume", "--last", "hi"], "exec")):
        match = one_error(llmx(env, *args), command, env.home / "sessions")
        assert match["what"].startswith(f"cannot use {env.home / 'sessions'}: ")
        assert match["todo"] == "move that file out of the way"
    assert (env.home / "sessions").read_text() == "not a folder"


def test_state_sqlite_is_a_folder(tmp_path: Path, server: ModelServer) -> None:
    env = make_env(tmp_path, server.base_url)
    assert llmx(env, "exec", "hi").returncode == 0
    index = env.home / "state.sqlite"
    for side in env.home.glob("state.sqlite*"):
        side.unlink()
    index.mkdir()
    for args, command in ((["sessions", "list"], "sessions list"),
                          (["exec", "resume", "--last", "again"], "exec")):
        match = one_error(llmx(env, *args), command, index)
        assert match["todo"] == "move that folder out of the way"
    # A new session still runs: the index is a cache, and says once that it was skipped.
    ran = llmx(env, "exec", "new")
    assert ran.returncode == 0, ran.stderr
    warnings = [line for line in ran.stderr.splitlines() if line.startswith("llmx exec: warning:")]
    assert len(warnings) == 1
    assert str(index) in warnings[0]
    assert index.is_dir()


def test_an_index_locked_past_the_wait_is_one_line(tmp_path: Path, server: ModelServer) -> None:
    env = make_env(tmp_path, server.base_url)
    assert llmx(env, "exec", "hi").returncode == 0
    index = env.home / "state.sqlite"
    holder = sqlite3.connect(index, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        match = one_error(llmx(env, "sessions", "list"), "sessions list", index)
        assert "locked by another process" in match["what"]
        assert match["todo"] == "retry, or look for a stuck llmx process"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert llmx(env, "sessions", "list").returncode == 0


def test_a_damaged_index_is_rebuilt(tmp_path: Path, server: ModelServer) -> None:
    env = make_env(tmp_path, server.base_url)
    assert llmx(env, "exec", "hi").returncode == 0
    index = env.home / "state.sqlite"
    for side in env.home.glob("state.sqlite-*"):
        side.unlink()
    index.write_bytes(b"this is not a database" * 100)
    listed = llmx(env, "sessions", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [row["preview"] for row in json.loads(listed.stdout)["data"]] == ["hi"]
