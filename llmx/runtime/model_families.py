"""What llmx knows of a model from its name, as Codex's model family table decides it.

Codex resolves a model's context window and the tools it offers from a table of model
families matched by slug prefix, with defaults for a model it does not know. llmx keeps
the part it acts on: the context window (from which the automatic compaction limit
follows: nine tenths of it, or the configured limit when that is lower) and whether
``apply_patch`` is offered. ``model_context_window`` and
``model_auto_compact_token_limit`` in ``config.toml`` override the table, as in Codex.
"""

from __future__ import annotations

import msgspec

# A model Codex does not know gets this window (its fallback model info).
DEFAULT_CONTEXT_WINDOW = 272_000


class ModelFamily(msgspec.Struct, frozen=True):
    # The slug prefix the family is matched by ("" for the fallback).
    prefix: str
    context_window: int
    # Offered as a tool: Codex offers apply_patch to the models it knows take it, and
    # not to an unknown model (its requests for "mock-model" carry no apply_patch).
    apply_patch: bool
    # The web search tool also searches images (Codex's bundled gpt-5 metadata).
    search_images: bool = False


# Longest prefix first: the first match wins.
_FAMILIES: tuple[ModelFamily, ...] = (
    ModelFamily("gpt-5", 272_000, True, search_images=True),
    ModelFamily("codex-", 272_000, True),
    ModelFamily("o3", 200_000, True),
    ModelFamily("o4-mini", 200_000, True),
    ModelFamily("gpt-4.1", 1_047_576, True),
    ModelFamily("gpt-4o", 128_000, False),
    ModelFamily("gpt-oss", 96_000, True),
)
_FALLBACK = ModelFamily("", DEFAULT_CONTEXT_WINDOW, False)


def model_family(model: str) -> ModelFamily:
    """The family of ``model`` (the fallback for a model the table does not name)."""
    for family in _FAMILIES:
        if model.startswith(family.prefix):
            return family
    return _FALLBACK


def context_window(model: str, configured: int | None) -> int:
    """The model's context window in tokens: the configured one, else the family's."""
    return configured if configured is not None else model_family(model).context_window


def auto_compact_limit(model: str, configured_window: int | None,
                       configured_limit: int | None) -> int:
    """The token count of the context at which a thread is compacted before it goes on:
    nine tenths of the context window, or the configured limit when that is lower."""
    window_limit = context_window(model, configured_window) * 9 // 10
    if configured_limit is not None and configured_limit > 0:
        return min(configured_limit, window_limit)
    return window_limit


def web_search_tool(model: str, mode: str) -> dict[str, object] | None:
    """The ``web_search`` tool as Codex 0.169 sends it for ``mode`` (``cached``: from the
    provider's index only; ``live``: also the live web), None when ``disabled``."""
    if mode == "disabled":
        return None
    tool: dict[str, object] = {"type": "web_search", "external_web_access": mode == "live"}
    if model_family(model).search_images:
        tool["search_content_types"] = ["text", "image"]
    return tool
