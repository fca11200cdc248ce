"""What keeps ``llmx sessions list`` fast on a warm index, and that it stays correct.

A warm listing reads no unchanged folder (sub-folders come from the index) and imports
neither the fold (msgspec) nor sqlite-utils nor rich.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path

from support.waits import WAIT_SECONDS

from llmx.events.home import rollout_path_for
from llmx.projections.sessions.index import SessionIndex
from llmx.projections.sessions.listing import list_sessions

HEAVY = ("msgspec", "sqlite_utils", "rich", "pydantic", "httpx", "aiofiles", "portalocker",
         "psycopg", "opentelemetry")


def _write_session(home: Path, started: datetime, prompt: str) -> str:
    thread_id = str(uuid.uuid4())
    stamp = started.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    path = rollout_path_for(home, thread_id, started)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lines = [
        {"timestamp": stamp, "type": "session_meta", "payload": {
            "id": thread_id, "timestamp": stamp, "cwd": "/w", "originator": "codex_exec",
            "cli_version": "0.169.0", "source": "exec", "model_provider": "mock"}},
        {"timestamp": stamp, "type": "event_msg", "payload": {
            "type": "user_message", "message": prompt}},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return thread_id


def _imported_modules(importtime_stderr: str) -> set[str]:
    # ``-X importtime`` lines: "import time: self | cumulative | <indent>name".
    names = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def test_warm_listing_imports_nothing_heavy(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ids = [_write_session(home, datetime(2026, 3, day, 9), f"task {day}") for day in (1, 2, 3)]
    env = {**os.environ, "LLMX_HOME": str(home)}
    command = [sys.executable, "-X", "importtime", "-m", "llmx", "sessions", "list"]
    cold = subprocess.run(command, env=env, capture_output=True, text=True, check=True,
                        timeout=WAIT_SECONDS)
    assert "msgspec" in _imported_modules(cold.stderr)  # the cold run folds the files
    warm = subprocess.run(command, env=env, capture_output=True, text=True, check=True,
                        timeout=WAIT_SECONDS)
    listed = [line.split()[0] for line in warm.stdout.splitlines()]
    assert sorted(listed) == sorted(ids)
    assert warm.stdout == cold.stdout
    loaded = _imported_modules(warm.stderr)
    assert "llmx.projections.sessions.index" in loaded
    assert [name for name in HEAVY if name in loaded] == []


def test_new_and_removed_folders_are_found_through_unchanged_parents(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = _write_session(home, datetime(2026, 3, 1, 9), "first")
    with SessionIndex.open(home) as index:
        index.sync(full=True)
        assert [row.id for row in list_sessions(index).rows] == [first]
        # A new day folder: only its month folder's mtime changes, not the year's or the
        # root's, so it is reached through the sub-folders the index recorded.
        second = _write_session(home, datetime(2026, 3, 2, 9), "second")
        # A new month folder under the same year.
        third = _write_session(home, datetime(2026, 4, 1, 9), "third")
        os.utime(rollout_path_for(home, third, datetime(2026, 4, 1, 9)), (2e9, 2e9))
        index.sync(full=False)
        assert [row.id for row in list_sessions(index).rows] == [third, second, first]
        # A new file in a folder that is already known.
        fourth = _write_session(home, datetime(2026, 3, 1, 10), "fourth")
        os.utime(rollout_path_for(home, fourth, datetime(2026, 3, 1, 10)), (3e9, 3e9))
        index.sync(full=False)
        assert list_sessions(index).rows[0].id == fourth
        # A whole day folder removed behind the index's back.
        shutil.rmtree(rollout_path_for(home, second, datetime(2026, 3, 2, 9)).parent)
        index.sync(full=False)
        assert second not in [row.id for row in list_sessions(index).rows]
        assert len(list_sessions(index).rows) == 3
