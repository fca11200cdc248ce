"""Which session index a ``sessions`` command reads: the shared one (``--index-url`` or
``[index] url``) or the home's sqlite index, and the machine and user a sync sends as.

Most homes have no ``[index]`` table: a ``config.toml`` whose bytes do not even contain
the word is not parsed at all, so ``sessions list`` keeps its start-up. Otherwise the
configuration is loaded (from its validated cache when unchanged).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from llmx.cli.errors import CommandError

if TYPE_CHECKING:
    from llmx.runtime.config import IndexConfig


def index_url(home: Path, flag_url: str | None) -> str | None:
    """The shared index's URL, or None for the sqlite index of ``home``."""
    if flag_url:
        return flag_url
    config = _index_config(home)
    return config.url or None if config is not None else None


def index_origin(home: Path) -> tuple[str, str]:
    """``(machine, user)`` that ``home``'s rows carry in the shared index."""
    from llmx.projections.session_index_pg import this_machine, this_user

    config = _index_config(home)
    return this_machine(config.machine if config is not None else None), this_user()


def _index_config(home: Path) -> IndexConfig | None:
    from llmx.events.home import config_path

    try:
        if b"index" not in config_path(home).read_bytes():
            return None
    except OSError:
        return None  # a missing file has no [index]; an unreadable one fails elsewhere
    from llmx.runtime.config_cache import load_config_cached
    from llmx.runtime.config_types import ConfigError

    try:
        return load_config_cached(home).config.index
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
