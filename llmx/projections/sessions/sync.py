"""``llmx sessions sync``: push one home's rollouts into the shared index, incrementally.

Each rollout file's fold state and position (byte offset, size, mtime, inode, and how many
of its user messages are stored) is a row of ``llmx_files``. A sync lists the home's
rollout folders, compares every file with its row, and folds only what changed, from the
recorded offset when the file grew (a file that shrank or was replaced is read again from
its start, its stored messages replaced). A file's new messages, its new position and the
threads it belongs to are written in one transaction, so a sync killed at any point
leaves every file either sent up to its recorded position or not at all, and the next sync
carries on from there: nothing lost, nothing sent twice (messages are also keyed by
``(machine, path, seq)``). Two syncs of the same home wait for each other (an advisory
lock); other homes and machines sync at the same time.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from llmx.events.home import archived_sessions_dir, sessions_dir
from llmx.projections.sessions.index import stamp_millis
from llmx.projections.sessions.index_pg import FilePosition, SharedIndex, SyncBatch
from llmx.projections.sessions.summary import FileSummary, parse_rollout_name
from llmx.projections.thread_names import thread_names

# Per transaction: at most this many files, or bytes of rollouts read.
BATCH_FILES = 1000
BATCH_BYTES = 64 << 20

Progress = Callable[[int, int], None]


class SyncReport(NamedTuple):
    files_seen: int
    files_sent: int
    files_removed: int
    bytes_read: int
    threads: int


class _Found(NamedTuple):
    stat: os.stat_result
    archived: bool
    thread_id: str


def _rollouts(home: Path) -> dict[str, _Found]:
    """Every rollout file of ``home``, with its ``stat`` (nothing of it is read)."""
    found: dict[str, _Found] = {}

    def walk(directory: str, archived: bool) -> None:
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if not archived:  # archived_sessions is flat, as in Codex
                    walk(entry.path, archived)
            elif (parsed := parse_rollout_name(entry.name)) is not None:
                with contextlib.suppress(FileNotFoundError):
                    found[entry.path] = _Found(entry.stat(), archived, parsed[1])

    walk(str(sessions_dir(home)), False)
    walk(str(archived_sessions_dir(home)), True)
    return found


def _unchanged(known: FilePosition, found: _Found) -> bool:
    stat = found.stat
    return (
        known.size == stat.st_size
        and known.mtime_ns == stat.st_mtime_ns
        and known.inode == stat.st_ino
        and bool(known.archived) == found.archived
    )


def _summary_of(row: dict[str, Any]) -> FileSummary:
    from llmx.projections.sessions.summary import STORED_COLUMNS

    values = {column: row[column] for column in STORED_COLUMNS}
    values["has_meta"] = bool(values["has_meta"])
    values["has_user_event"] = bool(values["has_user_event"])
    return FileSummary(**values)


def _fold(path: str, row: dict[str, Any] | None) -> tuple[FileSummary, bool, int] | None:
    """The file's summary caught up to its last complete line, whether it was read again
    from the start (its stored messages to be replaced), and how many messages it has
    stored before this fold; None when the file is gone."""
    from llmx.projections.sessions.scan import complete_messages, continues, summarise

    parsed = parse_rollout_name(os.path.basename(path))
    if parsed is None:
        return None
    stamp, thread_id, segment_id = parsed
    try:
        stat = os.stat(path)
        summary = _summary_of(row) if row is not None else None
        restarted = summary is None or not continues(summary, stat)
        stored = 0 if restarted or row is None else int(row["message_count"])
        if summary is None or restarted:
            summary = FileSummary(path, thread_id, segment_id)
            summary.created_at_ms = stamp_millis(stamp)
        summarise(summary, Path(path))
        messages = list(summary.new_user_messages)
        # A large file's middle is skipped by the summary; the shared index has no later
        # "search catch-up", so its messages are read now.
        complete_messages(summary, Path(path))
        messages.extend(summary.new_user_messages)
        summary.new_user_messages = messages
    except FileNotFoundError:
        return None
    return summary, restarted and row is not None, stored


def sync_home(
    shared: SharedIndex, home: Path, *, machine: str, user: str,
    progress: Progress | None = None,
) -> SyncReport:
    """Send what changed under ``home`` since its last sync (see the module docstring)."""
    home_key = str(home.absolute())
    shared.ensure_schema()
    with shared.home_lock(machine, home_key):
        # A file whose stat equals its recorded position is not opened, nor its row read.
        known = shared.file_positions(machine, home_key)
        files = _rollouts(home)
        names = thread_names(home)
        stored_names = shared.thread_names(machine, list(names))
        changed = [
            path for path, found in files.items()
            if path not in known or not _unchanged(known[path], found)
        ]
        # Oldest first: an interrupted first sync leaves a consistent prefix of history.
        changed.sort(key=lambda path: files[path].stat.st_mtime_ns)
        removed = [path for path in known if path not in files]
        rows = shared.file_rows(machine, [path for path in changed if path in known])
        sent = read = 0
        batch = SyncBatch(machine, user, names)
        batch_bytes = 0
        for number, path in enumerate(changed, 1):
            stat, archived = files[path].stat, files[path].archived
            folded = _fold(path, rows.get(path))
            if folded is None:
                if path in known:
                    batch.removed.append(path)
                    batch.threads.add(known[path].thread_id)
                continue
            summary, restarted, stored = folded
            if restarted:
                batch.restarted.append(path)
            for offset, body in enumerate(summary.new_user_messages):
                batch.messages.append((machine, path, stored + offset, summary.thread_id, body))
            row = summary.stored()
            row.update(machine=machine, home=home_key, archived=int(archived),
                       message_count=stored + len(summary.new_user_messages))
            batch.files.append(row)
            batch.threads.add(summary.thread_id)
            if path in known and known[path].thread_id != summary.thread_id:
                batch.threads.add(known[path].thread_id)
            sent += 1
            grown = max(0, stat.st_size - (known[path].built_to if path in known else 0))
            read += grown
            batch_bytes += grown
            if len(batch.files) >= BATCH_FILES or batch_bytes >= BATCH_BYTES:
                shared.write_batch(batch)
                if progress is not None:
                    progress(number, len(changed))
                batch = SyncBatch(machine, user, names)
                batch_bytes = 0
        for path in removed:
            batch.removed.append(path)
            batch.threads.add(known[path].thread_id)
        # Names given or changed since the last sync (session_index.jsonl of the home), of
        # this home's threads only: another home of the machine keeps the names it gave.
        threads = {found.thread_id for found in files.values()}
        batch.names = {
            thread_id: names.get(thread_id)
            for thread_id, stored_name in stored_names.items()
            if names.get(thread_id) != stored_name and thread_id not in batch.threads
            and thread_id in threads
        }
        if batch:
            shared.write_batch(batch)
        if progress is not None and changed:
            progress(len(changed), len(changed))
        return SyncReport(len(files), sent, len(removed), read, len(threads))
