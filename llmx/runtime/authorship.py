"""Who wrote a rollout: ``session_meta`` for the thread, a ``writer`` line per turn.

``session_meta`` (``originator``, ``cli_version``) names the program that started a thread.
A rollout may be continued by another (llmx resuming a Codex session, Codex resuming an
llmx one, another llmx version), so llmx writes a ``writer`` line of its own type before
each turn it runs; Codex's reader skips it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmx import __version__
from llmx.events.ids import format_timestamp
from llmx.events.records import SessionMeta, WriterRecord
from llmx.runtime.session_types import SessionSettings


def writer_record(settings: SessionSettings,
                  tools: Sequence[Mapping[str, Any]] | None = None) -> WriterRecord:
    """The ``writer`` line before each turn: which program ran it (session_meta names only
    the one that started the thread; llmx and Codex may take turns on one rollout), and
    the names of the ``tools`` its requests offer."""
    record = WriterRecord(originator=settings.originator, cli_version=__version__)
    if tools is not None:
        record.tools = [tool_name(tool) for tool in tools]
    return record


def tool_name(tool: Mapping[str, Any]) -> str:
    """A tool's name as the model sees it (a provider tool by its type: ``web_search``)."""
    function = tool.get("function")
    if isinstance(function, Mapping) and isinstance(function.get("name"), str):
        return str(function["name"])
    name = tool.get("name")
    return str(name) if isinstance(name, str) else str(tool.get("type", "?"))


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
