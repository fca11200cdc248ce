"""Which recorded thread a frontend means (``ThreadRef``), and what resuming it restores.

A thread is named by its id (the full id, a unique prefix, or its thread name), by the
path of its rollout file, or as "the latest" (of one directory, or of any). Ids and
"latest" go through the session index, which catches up with the files first.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from llmx.events.home import session_index_db_path
from llmx.events.lines import LineError, RolloutLine, decode_line
from llmx.events.primitives import TokenUsage
from llmx.events.raw_lines import first_line
from llmx.runtime.context_updates import ContextBaseline
from llmx.runtime.session_types import HistoryItem
from llmx.runtime.threads.errors import ThreadError

if TYPE_CHECKING:
    from llmx.projections.lineage import RolloutSpan


class RefKind(enum.StrEnum):
    # A full thread id, a unique id prefix or a thread name.
    ID = "id"
    # The path of a rollout file.
    PATH = "path"
    # The newest recorded thread (of ``cwd`` unless ``any_cwd``).
    LAST = "last"


class ThreadRef(msgspec.Struct, frozen=True):
    """A recorded thread, as a frontend names it; build one with the class methods."""

    kind: RefKind
    value: str = ""
    any_cwd: bool = False

    @classmethod
    def by_id(cls, value: str) -> ThreadRef:
        """A full id, a unique prefix of one, or a thread name."""
        return cls(RefKind.ID, value)

    @classmethod
    def by_path(cls, path: Path | str) -> ThreadRef:
        return cls(RefKind.PATH, str(path))

    @classmethod
    def last(cls, *, any_cwd: bool = False) -> ThreadRef:
        """The newest thread recorded in the thread's ``cwd`` (in any with ``any_cwd``)."""
        return cls(RefKind.LAST, any_cwd=any_cwd)


def find_rollout(home: Path, ref: ThreadRef, *, cwd: Path, read_only: bool = False,
                 index_url: str | None = None, machine: str | None = None) -> Path:
    """The rollout file ``ref`` names; :class:`ThreadError` when there is none.

    With ``read_only`` (an ephemeral thread) the session index is read from a copy in
    memory, so nothing under ``home`` is written. With ``index_url`` ids and "latest"
    are looked up in the shared index instead (as ``machine``).
    """
    if ref.kind is RefKind.PATH:
        path = Path(ref.value).expanduser()
        if not path.is_file():
            raise ThreadError(f"{path}: no such rollout file", "pass the path of a .jsonl rollout")
        return path.resolve()
    if index_url is not None:
        return _find_shared(index_url, ref, cwd=cwd, machine=machine)
    # Imported here: a new thread never looks anything up.
    import sqlite3

    from llmx.projections.sessions.index_schema import failure
    from llmx.projections.sessions.listing import (
        SessionLookupError,
        list_sessions,
        open_index,
        resolve_session,
    )

    try:
        if ref.kind is RefKind.ID:
            return resolve_session(home, ref.value, read_only=read_only)
        with open_index(home, read_only=read_only) as index:
            page = list_sessions(index, cwd=None if ref.any_cwd else cwd, limit=1)
    except SessionLookupError as exc:
        raise ThreadError(str(exc)) from None
    except sqlite3.Error as exc:
        # A full or read-only disk, a lock, a folder in the way: said as such (the index
        # rebuilds itself when it is damaged; deleting it is never the advice here).
        what, todo = failure(exc, session_index_db_path(home))
        raise ThreadError(what, todo) from None
    except OSError as exc:
        target = Path(exc.filename) if exc.filename else home
        raise ThreadError.from_os(exc, target, doing="cannot use") from None
    if not page.rows:
        if ref.any_cwd:
            raise ThreadError("no recorded session to resume", "start one with 'llmx exec PROMPT'")
        raise ThreadError(f"no recorded session to resume for {cwd}",
                          "use --all for every directory")
    return Path(page.rows[0].rollout_path)


def _find_shared(url: str, ref: ThreadRef, *, cwd: Path, machine: str | None) -> Path:
    """``ref`` looked up in the shared index: its rollout must be a file of this machine
    (the index says where each session ran; its file is not copied)."""
    from llmx.projections.sessions.index_pg import SharedIndex, SharedIndexError, this_machine
    from llmx.projections.sessions.listing import SessionLookupError
    from llmx.projections.sessions.listing_shared import get_shared, list_shared, resolve_shared

    here = this_machine(machine)
    try:
        with SharedIndex.connect(url) as shared:
            if ref.kind is RefKind.ID:
                found = get_shared(shared, resolve_shared(shared, ref.value))
                if found is None:
                    raise ThreadError(f"session {ref.value} disappeared while looking it up",
                                      "try again")
                row, origin = found
            else:
                page = list_shared(shared, cwd=None if ref.any_cwd else cwd, limit=1,
                                   machine=here)
                if not page.rows:
                    where = "" if ref.any_cwd else f" for {cwd}"
                    raise ThreadError(f"no session of {here} to resume{where} in the shared index",
                                      "sync this machine with 'llmx sessions sync'"
                                      + ("" if ref.any_cwd else ", or use --all"))
                row, origin = page.rows[0], {"machine": here}
    except SharedIndexError as exc:
        raise ThreadError(exc.what, exc.todo) from None
    except SessionLookupError as exc:
        raise ThreadError(str(exc)) from None
    path = Path(row.rollout_path)
    if origin["machine"] != here:
        raise ThreadError(
            f"session {row.id} ran on {origin['machine']} ({path}), not on {here}",
            "resume it there, or copy its rollout here and pass its path",
        )
    if not path.is_file():
        raise ThreadError(f"session {row.id}: its rollout {path} is no longer here",
                          "run 'llmx sessions sync' to update the shared index")
    return path


class RecordedThread(msgspec.Struct):
    """What a rollout gives back to the thread that continues it."""

    thread_id: str
    # The model context (``msgspec.Raw`` items, spliced into requests as recorded).
    history: list[HistoryItem]
    # The file's ``session_meta`` line, for a frontend that shows it first.
    meta_line: RolloutLine | None
    # The thread's running token total, which the new turns continue.
    token_usage: TokenUsage | None
    # The settings the model was last told of (None when no turn_context survives).
    baseline: ContextBaseline | None = None
    # One line per rollout line the fold could not read and left out of ``history``.
    notices: list[str] = msgspec.field(default_factory=list)


def load_recorded(path: Path, spans: Sequence[RolloutSpan] | None = None) -> RecordedThread:
    """Fold ``path`` (and the parents its ``history_base`` names) back into model context;
    with ``spans``, only that much of its lineage (a fork from a turn).

    A torn final line is ignored here; the writer that appends to the file cuts it.
    """
    from llmx.projections.lineage import LineageError
    from llmx.projections.resume import fold_resume_raw, prompt_input_raw
    from llmx.runtime.models.usage import recorded_total

    try:
        # Restored items stay the bytes they were recorded as, spliced into the request.
        state = fold_resume_raw(path, spans=spans)
        first = first_line(path)
    except LineageError as exc:
        raise ThreadError(str(exc), "restore the parent rollout it continues") from None
    except OSError as exc:
        raise ThreadError.from_os(exc, path, doing="cannot read") from None
    if state.thread_id is None:
        raise ThreadError(f"{path} has no session_meta line, so it cannot be resumed",
                          "check it with 'llmx rollout check'")
    meta: RolloutLine | None = None
    if first is not None:
        try:
            meta = decode_line(first.data)
        except LineError:
            meta = None
    if meta is not None and meta.type != "session_meta":
        meta = None
    reference = state.reference_context
    baseline = (None if reference is None
                else ContextBaseline.from_turn_context(reference, state.previous_model))
    notices = [
        f"{skipped.path}: the line at byte {skipped.offset} cannot be read ({skipped.reason}) "
        "and is left out of the resumed history; 'llmx rollout check' lists such lines"
        for skipped in state.skipped
    ]
    return RecordedThread(state.thread_id, list(prompt_input_raw(state.history)), meta,
                          recorded_total(state.token_usage), baseline, notices)
