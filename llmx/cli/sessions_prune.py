"""Retention: ``llmx sessions prune`` and ``llmx sessions size``.

Pruning deletes the sessions (every file of each: revert segments too) last written
before a cutoff, in ``sessions/`` and ``archived_sessions/``. Nothing goes silently: each
session is named with its date, size and first message, ``--dry-run`` only says what
would go, and the deletion itself is confirmed on a terminal or with ``--yes``. A session
whose history a kept fork (or revert segment) continues is kept, with the reason, since
deleting it would cut that fork's history; so is a session another process is writing.
The session index is brought up to date before (so the dates are the files') and after
(so it lists nothing that was deleted).
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from llmx.projections.sessions.index import SessionIndex

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^(\d+)([mhdw])$")


class PruneError(Exception):
    pass


def parse_duration(text: str) -> int:
    """``30d``, ``12h``, ``2w``, ``90m`` as seconds."""
    match = _DURATION.match(text.strip())
    if match is None or int(match[1]) == 0:
        raise PruneError(f"--older-than {text!r}: not a duration — write it as a number and "
                         "a unit: 90m, 12h, 30d or 8w")
    return int(match[1]) * _UNITS[match[2]]


@dataclass
class Session:
    thread_id: str
    files: list[Path]
    size: int
    updated_ns: int
    preview: str
    archived: bool
    kept_because: str | None = None


@dataclass
class Plan:
    delete: list[Session] = field(default_factory=list)
    keep: list[Session] = field(default_factory=list)


def _sessions(index: SessionIndex) -> list[Session]:
    rows = index.conn.execute(
        "SELECT thread_id, path, size, mtime_ns, first_user_message, archived "
        "FROM rollout_files ORDER BY thread_id, segment_id").fetchall()
    found: dict[str, Session] = {}
    for thread_id, path, size, mtime_ns, first, archived in rows:
        session = found.get(thread_id)
        if session is None:
            session = found[thread_id] = Session(thread_id, [], 0, 0, "", bool(archived))
        session.files.append(Path(path))
        session.size += int(size or 0)
        session.updated_ns = max(session.updated_ns, int(mtime_ns or 0))
        session.preview = session.preview or str(first or "")
    return list(found.values())


def plan_prune(index: SessionIndex, older_than_s: int, now: float | None = None) -> Plan:
    from llmx.events.writer_lock import current_writer
    from llmx.projections.lineage import read_history_base

    cutoff_ns = int(((now or time.time()) - older_than_s) * 1e9)
    sessions = _sessions(index)
    by_id = {session.thread_id: session for session in sessions}
    old = {s.thread_id for s in sessions if s.updated_ns < cutoff_ns}
    # Whose history each session continues (its files' history_base), to keep the
    # parents of whatever stays.
    bases: dict[str, set[str]] = {}
    for session in sessions:
        for path in session.files:
            _thread, base = read_history_base(path)
            if base is not None and base.thread_id != session.thread_id:
                bases.setdefault(session.thread_id, set()).add(base.thread_id)
    for session in sessions:
        if session.thread_id in old:
            holder = next((h for h in map(current_writer, session.files) if h), None)
            if holder is not None:
                session.kept_because = f"{holder.describe()} is writing it"
    changed = True
    while changed:
        changed = False
        staying = {s.thread_id for s in sessions
                   if s.thread_id not in old or s.kept_because is not None}
        for child in staying:
            for parent_id in bases.get(child, ()):
                parent = by_id.get(parent_id)
                if parent is not None and parent.thread_id in old and \
                        parent.kept_because is None:
                    parent.kept_because = f"session {child} continues its history"
                    changed = True
    plan = Plan()
    for session in sorted(sessions, key=lambda s: s.updated_ns):
        if session.thread_id in old:
            (plan.keep if session.kept_because else plan.delete).append(session)
    return plan


def delete_sessions(index: SessionIndex, sessions: list[Session]) -> None:
    for session in sessions:
        for path in session.files:
            path.unlink(missing_ok=True)
    # The index forgets them now, not at its next catch-up.
    index.sync(full=True)


def confirm(count: int, size: int) -> bool:
    if not sys.stdin.isatty():
        return False
    answer = input(f"delete {count} session(s), {human_size(size)}? [y/N] ")
    return answer.strip().lower() in {"y", "yes"}


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def describe(session: Session) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(session.updated_ns / 1e9))
    preview = " ".join(session.preview.split())[:60]
    where = " (archived)" if session.archived else ""
    return f"{session.thread_id}  {when}  {human_size(session.size):>9}{where}  {preview}"


def size_report(home: Path, index: SessionIndex, top: int) -> dict[str, object]:
    """Bytes and files under ``sessions/`` and ``archived_sessions/``, and the largest
    sessions."""
    from llmx.events.home import archived_sessions_dir, sessions_dir

    areas = {}
    for name, root in (("sessions", sessions_dir(home)),
                       ("archived_sessions", archived_sessions_dir(home))):
        files = total = 0
        if root.is_dir():
            for folder, _dirs, names in os.walk(root):
                for entry in names:
                    if entry.endswith(".jsonl"):
                        files += 1
                        total += os.stat(os.path.join(folder, entry)).st_size
        areas[name] = {"files": files, "bytes": total}
    sessions = sorted(_sessions(index), key=lambda s: s.size, reverse=True)
    return {"areas": areas, "sessions": len(sessions),
            "largest": [{"id": s.thread_id, "bytes": s.size, "files": len(s.files),
                         "archived": s.archived, "preview": s.preview[:80]}
                        for s in sessions[:top]]}
