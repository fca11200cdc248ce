"""Thread names: ``$LLMX_HOME/session_index.jsonl``, Codex's append-only name log.

Each line is ``{"id","thread_name","updated_at"}``; the last line about an id (or a name)
wins. Unreadable lines are skipped: a name log must never stop a listing.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from llmx.events.home import FILE_MODE, ensure_private_dir


def names_path(home: Path) -> Path:
    return home / "session_index.jsonl"


def _entries(home: Path) -> list[tuple[str, str]]:
    try:
        raw = names_path(home).read_bytes()
    except FileNotFoundError:
        return []
    found: list[tuple[str, str]] = []
    for line in raw.splitlines():
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: nested too deeply
            continue
        if isinstance(entry, dict):
            thread_id, name = entry.get("id"), entry.get("thread_name")
            if isinstance(thread_id, str) and isinstance(name, str):
                found.append((thread_id.lower(), name))
    return found


def thread_names(home: Path) -> dict[str, str]:
    """The current name of every named thread."""
    return dict(_entries(home))


def ids_named(home: Path, name: str) -> list[str]:
    """Threads whose *current* name is ``name``, most recently named first."""
    current = thread_names(home)
    ordered = [thread_id for thread_id, _ in reversed(_entries(home))]
    seen: list[str] = []
    for thread_id in ordered:
        if current.get(thread_id) == name and thread_id not in seen:
            seen.append(thread_id)
    return seen


def set_thread_name(home: Path, thread_id: str, name: str) -> None:
    """Append a name entry (one ``write``, 0600 file)."""
    ensure_private_dir(home)
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    line = json.dumps(
        {"id": thread_id, "thread_name": name, "updated_at": stamp}, separators=(",", ":")
    )
    fd = os.open(names_path(home), os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)
