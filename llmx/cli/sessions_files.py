"""Archive, unarchive and delete: moving a session's rollout files, then updating the index.

A thread may own several files (revert segments share its id); all of them move together.
Archived files live flat in ``archived_sessions/``; unarchiving puts them back under the
``sessions/YYYY/MM/DD`` folder named by their filename stamp, as Codex does.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from llmx.events.home import archived_sessions_dir, ensure_private_dir, llmx_home, sessions_dir
from llmx.projections.sessions.index import SessionIndex
from llmx.projections.sessions.listing import SessionLookupError, resolve_session_id
from llmx.projections.sessions.summary import parse_rollout_name


class SessionFileError(Exception):
    pass


def _files_of(index: SessionIndex, thread_id: str) -> list[Path]:
    rows = index.conn.execute(
        "SELECT path FROM rollout_files WHERE thread_id=? ORDER BY segment_id", (thread_id,)
    ).fetchall()
    return [Path(row[0]) for row in rows]


def _day_dir(home: Path, name: str) -> Path:
    parsed = parse_rollout_name(name)
    if parsed is None:
        raise SessionFileError(
            f"{name} is not a rollout file name — rename it rollout-<time>-<id>.jsonl"
        )
    stamp = parsed[0]
    return sessions_dir(home) / stamp[0:4] / stamp[5:7] / stamp[8:10]


def _confirm(thread_id: str, files: list[Path]) -> bool:
    if not sys.stdin.isatty():
        return False
    answer = input(f"delete session {thread_id} ({len(files)} file(s))? [y/N] ")
    return answer.strip().lower() in {"y", "yes"}


def move_session(action: str, ref: str, *, confirmed: bool = False) -> str:
    """Do ``action`` (archive, unarchive, delete) to session ``ref``; return what was done."""
    home = llmx_home()
    with SessionIndex.open(home) as index:
        try:
            thread_id = resolve_session_id(index, ref)
        except SessionLookupError as error:
            raise SessionFileError(str(error)) from None
        files = _files_of(index, thread_id)
        archived_dir = archived_sessions_dir(home)
        if action == "delete":
            if not confirmed and not _confirm(thread_id, files):
                raise SessionFileError(
                    f"not deleting session {thread_id} — pass --yes to delete without asking"
                )
            for path in files:
                path.unlink(missing_ok=True)
            moved = files
        elif action == "archive":
            if all(path.parent == archived_dir for path in files):
                raise SessionFileError(
                    f"session {thread_id} is already archived — see `llmx sessions list --archived`"
                )
            ensure_private_dir(archived_dir)
            moved = []
            for path in files:
                target = archived_dir / path.name
                os.replace(path, target)
                moved.extend([path, target])
        else:
            if not any(path.parent == archived_dir for path in files):
                raise SessionFileError(
                    f"session {thread_id} is not archived — see `llmx sessions list`"
                )
            moved = []
            for path in files:
                day = _day_dir(home, path.name)
                ensure_private_dir(day)
                os.replace(path, day / path.name)
                moved.extend([path, day / path.name])
        index.sync(full=True)
        for path in moved:
            if path.exists():
                index.record_flush(path)
    return f"{action}d session {thread_id}" if action != "unarchive" else (
        f"unarchived session {thread_id}"
    )
