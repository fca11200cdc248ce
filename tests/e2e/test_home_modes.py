"""Every file llmx creates under its home is 0600 and every folder 0700, side files too.

Rollouts, blobs, the history and its offset index, the session index with its
write-ahead log and shared memory (they hold prompt text as well):
whatever a run of the usual commands leaves behind, under a umask that would make them
readable by everyone.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from e2e.exec_harness import make_env
from support.model_scripts import Script
from support.model_server import ModelServer

SCRIPT = {
    "turns": [[{"type": "shell", "command": "head -c 200000 /dev/zero | tr '\\\\0' x"}]],
    "fallback": [{"type": "message", "text": "done"}],
}


def test_every_created_file_is_private(tmp_path: Path) -> None:
    with ModelServer(Script.from_json(SCRIPT)) as server:
        env = make_env(tmp_path, server.base_url)
        (env.home / "config.toml").chmod(0o644)  # the user's own file: left as it is
        environment = env.env()

        def llmx(*args: str) -> None:
            result = subprocess.run(
                ["sh", "-c", 'umask 000 && exec "$@"', "sh", sys.executable, "-m", "llmx",
                 *args],
                capture_output=True, text=True, env=environment, cwd=env.workspace,
                stdin=subprocess.DEVNULL, timeout=120, check=False,
            )
            assert result.returncode == 0, result.stderr

        llmx("exec", "-s", "danger-full-access", "print a lot")
        llmx("exec", "resume", "--last", "and again")
        llmx("sessions", "list")
        llmx("sessions", "search", "again")
        llmx("history")
        [rollout] = env.rollouts()
        thread = rollout.name.removesuffix(".jsonl")[-36:]
        llmx("sessions", "archive", thread)
        llmx("sessions", "unarchive", thread)
    created = {path.relative_to(env.home).as_posix(): path for path in env.home.rglob("*")}
    # What the run had to leave: the files whose modes are checked below.
    names = set(created)
    for expected in ("state.sqlite", "history.jsonl", "history.offsets"):
        assert expected in names, sorted(names)
    assert any(name.endswith(".blobs") for name in names), sorted(names)
    wrong = []
    for name, path in sorted(created.items()):
        if name == "config.toml":
            continue
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        wanted = 0o700 if path.is_dir() else 0o600
        if mode != wanted:
            wrong.append(f"{name}: {mode:o}")
    assert wrong == []
    assert stat.S_IMODE(env.home.stat().st_mode) == 0o700


def test_the_index_side_files_are_private_while_it_is_open(tmp_path: Path) -> None:
    """SQLite removes the write-ahead log and shared memory when the last connection
    closes, so they are looked at while one is open (as during every exec)."""
    from llmx.projections.sessions.index import SessionIndex

    home = tmp_path / "home"
    previous = os.umask(0)
    try:
        with SessionIndex.open(home) as index:
            index.sync()
            sides = sorted(home.glob("state.sqlite*"))
            modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in sides}
    finally:
        os.umask(previous)
    assert modes == {"state.sqlite": 0o600, "state.sqlite-shm": 0o600,
                     "state.sqlite-wal": 0o600}
