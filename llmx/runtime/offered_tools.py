"""The tools a turn offers its model: its catalog entry's, on its wire, with the web search
the configuration asks for. A turn's requests send them, its tool calls are held to them,
and the writer line before it names them (what ``llmx inspect`` shows)."""

from __future__ import annotations

from typing import Any

from llmx.runtime.model_families import model_family, web_search_tool
from llmx.runtime.session_types import SessionSettings
from llmx.runtime.tools.specs import tool_specs


def offered_tools(settings: SessionSettings) -> list[dict[str, Any]]:
    catalog = settings.model_catalog
    return tool_specs(settings.wire_api, model_family(settings.model, catalog),
                      web_search=web_search_tool(settings.model, settings.web_search_mode,
                                                 catalog))


def offered_names(settings: SessionSettings) -> frozenset[str]:
    """The names a tool call may carry (a chat function's name is inside ``function``)."""
    names = set()
    for spec in offered_tools(settings):
        name = spec.get("name") or spec.get("function", {}).get("name")
        if isinstance(name, str):
            names.add(name)
    return frozenset(names)
