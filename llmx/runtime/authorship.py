"""Who wrote a rollout: ``session_meta`` for the thread, a ``writer`` line per turn.

``session_meta`` (``originator``, ``cli_version``) names the program that started a thread.
A rollout may be continued by another (llmx resuming a Codex session, Codex resuming an
llmx one, another llmx version), so llmx writes a ``writer`` line of its own type before
each turn it runs; Codex's reader skips it.
"""

from __future__ import annotations

from llmx import __version__
from llmx.events.ids import format_timestamp
from llmx.events.records import SessionMeta, WriterRecord
from llmx.runtime.session_types import SessionSettings


def writer_record(settings: SessionSettings) -> WriterRecord:
    """The ``writer`` line before each turn: which program ran it (session_meta names only
    the one that started the thread; llmx and Codex may take turns on one rollout)."""
    return WriterRecord(originator=settings.originator, cli_version=__version__)


def session_meta(settings: SessionSettings) -> SessionMeta:
    """The thread's ``session_meta``: written first when its rollout file appears."""
    meta = SessionMeta(
        id=settings.thread_id,
        timestamp=format_timestamp(),
        cwd=str(settings.cwd),
        originator=settings.originator,
        cli_version=__version__,
        source=settings.source,
        model_provider=settings.model_provider,
        base_instructions={"text": settings.base_instructions},
        # Every line carries its ordinal, as in Codex 0.169's paginated rollouts; Codex
        # follows a fork's ``history_base`` only into a parent that says so.
        history_mode="paginated",
    )
    if settings.thread_source is not None:
        meta.thread_source = settings.thread_source
    return meta
