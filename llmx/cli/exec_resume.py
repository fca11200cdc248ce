"""``exec resume``: find the session's rollout and fold it back into model context."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmx.cli.exec_run import ExecError
from llmx.events.home import sessions_dir

if TYPE_CHECKING:
    from llmx.events.lines import RolloutLine


def _rollouts(home: Path) -> list[Path]:
    root = sessions_dir(home)
    if not root.is_dir():
        return []
    return list(root.glob("*/*/*/rollout-*.jsonl"))


def find_rollout(home: Path, session_id: str | None, *, cwd: Path, all_dirs: bool) -> Path:
    files = _rollouts(home)
    if session_id is not None:
        matches = [path for path in files if path.name.endswith(f"-{session_id}.jsonl")]
        if not matches:
            raise ExecError(
                f"no session {session_id!r} under {sessions_dir(home)}; list sessions with "
                "'llmx sessions' or use 'resume --last'"
            )
        return matches[0]
    newest = sorted(files, key=lambda path: path.stat().st_mtime, reverse=True)
    for path in newest:
        if all_dirs or _session_cwd(path) == str(cwd):
            return path
    where = "" if all_dirs else f" for {cwd} (use --all for every directory)"
    raise ExecError(f"no recorded session to resume{where}")


def _session_cwd(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            first = handle.readline()
        payload = json.loads(first).get("payload", {})
    except (OSError, ValueError, AttributeError):
        return None
    cwd = payload.get("cwd") if isinstance(payload, dict) else None
    return cwd if isinstance(cwd, str) else None


def load_resume(path: Path) -> tuple[str, list[dict[str, Any]], RolloutLine | None]:
    """Thread id, model-context history and the ``session_meta`` line of ``path``.

    A torn final line is ignored here; the writer that resumes the file cuts it.
    """
    from llmx.events.lines import LineError, decode_line
    from llmx.projections.resume import fold_resume, prompt_input

    try:
        state = fold_resume(path)
        with path.open("rb") as handle:
            first = handle.readline()
    except OSError as exc:
        raise ExecError(f"cannot read {path}: {exc.strerror or exc}") from None
    if state.thread_id is None:
        raise ExecError(f"{path} has no session_meta line; it cannot be resumed")
    meta: RolloutLine | None = None
    if first.endswith(b"\n"):
        try:
            meta = decode_line(first.rstrip(b"\n"))
        except LineError:
            meta = None
    if meta is not None and meta.type != "session_meta":
        meta = None
    return state.thread_id, prompt_input(state.history), meta
