"""``exec resume``: find the session's rollout and fold it back into model context."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from llmx.cli.errors import os_error
from llmx.cli.exec_run import ExecError
from llmx.events.home import session_index_db_path

if TYPE_CHECKING:
    from llmx.events.event_log import EventLog, RolloutOptions
    from llmx.events.lines import RolloutLine
    from llmx.events.primitives import TokenUsage
    from llmx.runtime.session_types import HistoryItem


def find_rollout(
    home: Path, session_id: str | None, *, cwd: Path, all_dirs: bool, read_only: bool = False
) -> Path:
    """The rollout to resume: ``session_id`` (full id, unique prefix or thread name), or
    the newest listed session of ``cwd`` (of any directory with ``all_dirs``).

    Both go through the session index, which catches up with the files first; with
    ``read_only`` (``--ephemeral``) on a copy in memory, so nothing is written.
    """
    from llmx.projections.session_listing import (
        SessionLookupError,
        list_sessions,
        open_index,
        resolve_session,
    )

    try:
        if session_id is not None:
            return resolve_session(home, session_id, read_only=read_only)
        with open_index(home, read_only=read_only) as index:
            page = list_sessions(index, cwd=None if all_dirs else cwd, limit=1)
    except SessionLookupError as exc:
        raise ExecError(str(exc)) from None
    except (sqlite3.Error, OSError) as exc:
        raise ExecError(
            f"cannot read the session index of {home}: {exc}",
            f"delete {session_index_db_path(home)} to rebuild it",
        ) from None
    if not page.rows:
        if all_dirs:
            raise ExecError("no recorded session to resume", "start one with 'llmx exec PROMPT'")
        raise ExecError(f"no recorded session to resume for {cwd}",
                        "use --all for every directory")
    return Path(page.rows[0].rollout_path)


def open_resumed_log(path: Path, *, ephemeral: bool, options: RolloutOptions) -> EventLog:
    """The writer of ``path`` (nothing is written with ``ephemeral``), or one line saying
    which process holds it or why the file cannot be opened for appending."""
    from llmx.events.event_log import EventLog
    from llmx.events.writer_lock import RolloutBusy

    try:
        return EventLog.resume(path, ephemeral=ephemeral, options=options)
    except RolloutBusy as busy:
        raise ExecError(busy.what, busy.todo) from None
    except OSError as exc:
        raise os_error(exc, path, doing="cannot append to") from None


class Resumed(msgspec.Struct):
    """What a resumed session starts from, folded from its rollout."""

    thread_id: str
    # Model-context history (``msgspec.Raw`` items, spliced into requests as recorded).
    history: list[HistoryItem]
    # The file's ``session_meta`` line, shown first as a replay would show it.
    meta: RolloutLine | None
    # The thread's running token total, continued by the new turns.
    token_usage: TokenUsage | None


def load_resume(path: Path) -> Resumed:
    """The state the session at ``path`` resumes from.

    A torn final line is ignored here; the writer that resumes the file cuts it.
    """
    from llmx.events.lines import LineError, decode_line
    from llmx.projections.resume import fold_resume_raw, prompt_input_raw
    from llmx.runtime.models.usage import recorded_total

    try:
        # Restored items stay the bytes they were recorded as, spliced into the request.
        state = fold_resume_raw(path)
        with path.open("rb") as handle:
            first = handle.readline()
    except OSError as exc:
        raise os_error(exc, path, doing="cannot read") from None
    if state.thread_id is None:
        raise ExecError(f"{path} has no session_meta line, so it cannot be resumed",
                        "check it with 'llmx rollout check'")
    meta: RolloutLine | None = None
    if first.endswith(b"\n"):
        try:
            meta = decode_line(first.rstrip(b"\n"))
        except LineError:
            meta = None
    if meta is not None and meta.type != "session_meta":
        meta = None
    history: list[HistoryItem] = list(prompt_input_raw(state.history))
    return Resumed(state.thread_id, history, meta, recorded_total(state.token_usage))
