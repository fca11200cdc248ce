"""The home directory layout, the same as ``$CODEX_HOME`` so a Codex home can be used as is."""

from __future__ import annotations

import errno
import os
from datetime import datetime
from pathlib import Path

HOME_ENV = "LLMX_HOME"

# Created 0700: rollouts hold prompts, command output and file contents.
DIR_MODE = 0o700
FILE_MODE = 0o600


def llmx_home() -> Path:
    """``$LLMX_HOME``, or ``~/.llmx`` when unset or empty."""
    configured = os.environ.get(HOME_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".llmx"


def missing_configured_home() -> Path | None:
    """``$LLMX_HOME`` when it is set and names nothing: a mistyped or unmounted home would
    otherwise be created empty, and the sessions and settings of the real one would seem
    gone (Codex refuses a ``$CODEX_HOME`` that does not exist, for the same reason). The
    default, ``~/.llmx``, is created on first use."""
    configured = os.environ.get(HOME_ENV)
    if not configured:
        return None
    home = Path(configured).expanduser()
    return None if home.exists() else home


def sessions_dir(home: Path) -> Path:
    return home / "sessions"


def archived_sessions_dir(home: Path) -> Path:
    return home / "archived_sessions"


def history_path(home: Path) -> Path:
    return home / "history.jsonl"


def config_path(home: Path) -> Path:
    return home / "config.toml"


def session_index_db_path(home: Path) -> Path:
    """The sqlite session index: derived, deletable, rebuilt from the rollout files."""
    return home / "state.sqlite"


def rollout_file_name(thread_id: str, started_local: datetime,
                      segment_id: str | None = None) -> str:
    # Codex names files by *local* wall-clock time with ``:`` replaced by ``-``; a revert
    # segment of a thread adds ``_<segment id>`` after the thread's id.
    stem = thread_id if segment_id is None else f"{thread_id}_{segment_id}"
    return f"rollout-{started_local.strftime('%Y-%m-%dT%H-%M-%S')}-{stem}.jsonl"


def rollout_path_for(home: Path, thread_id: str, started_local: datetime,
                     segment_id: str | None = None) -> Path:
    """``sessions/YYYY/MM/DD/rollout-<local ts>-<uuid>[_<segment uuid>].jsonl``."""
    day = sessions_dir(home) / f"{started_local:%Y}" / f"{started_local:%m}" / f"{started_local:%d}"
    return day / rollout_file_name(thread_id, started_local, segment_id)


def ensure_private_dir(path: Path) -> list[Path]:
    """Create ``path`` and its missing parents with mode 0700 (the umask cannot widen it);
    the folders created, outermost first."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    if missing and not current.is_dir():
        # Name the file in the way (``sessions`` being a file), not the folder below it.
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(current))
    created: list[Path] = []
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(directory, DIR_MODE)
        created.append(directory)
    return created
