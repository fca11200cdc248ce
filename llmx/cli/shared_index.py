"""Which session index a ``sessions`` command reads: the shared one (``--index-url`` or
``[index] url``) or the home's sqlite index, and the machine and user a sync sends as.

Most homes have no ``[index]`` table: a ``config.toml`` whose bytes do not even contain
the word is not parsed at all, so ``sessions list`` keeps its start-up. Otherwise only the
``[index]`` table is read from it (``url`` and ``machine``, the two keys of
``llmx.runtime.config.tables.IndexConfig``), with the TOML parser alone: loading the whole
validated configuration would bring the agent's runtime with it (about 100 ms of start-up
on 2 cores), which a listing has no use for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmx.cli.errors import CommandError

_KEYS = ("url", "machine")


def index_url(home: Path, flag_url: str | None) -> str | None:
    """The shared index's URL, or None for the sqlite index of ``home``."""
    if flag_url:
        return flag_url
    table = _index_table(home)
    return table.get("url") or None if table is not None else None


def index_origin(home: Path) -> tuple[str, str]:
    """``(machine, user)`` that ``home``'s rows carry in the shared index."""
    from llmx.projections.sessions.index_pg import this_machine, this_user

    table = _index_table(home)
    return this_machine(table.get("machine") if table is not None else None), this_user()


def _index_table(home: Path) -> dict[str, Any] | None:
    """The ``[index]`` table of ``home``'s ``config.toml``, its keys checked."""
    from llmx.events.home import config_path

    path = config_path(home)
    try:
        data = path.read_bytes()
    except OSError:
        return None  # a missing file has no [index]; an unreadable one fails elsewhere
    if b"index" not in data:
        return None
    import tomllib

    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: not valid TOML ({exc})",
                           "fix the file or move it away") from None
    table = document.get("index")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise CommandError(f"{path}: index is not a table",
                           'write it as [index] with url = "postgresql://..."')
    for key in _KEYS:
        if not isinstance(table.get(key, ""), str):
            raise CommandError(f"{path}: [index] {key} must be a string, got {table[key]!r}",
                               f"quote it: {key} = \"...\"")
    return table
