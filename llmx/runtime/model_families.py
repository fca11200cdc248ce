"""What llmx knows of a model from its name, as Codex 0.169's model catalog decides it.

Codex resolves a model's facts (context window, the tools it is offered) from a catalog of
models matched by slug prefix (the longest slug the name starts with: ``gpt-5.5-mini``
is ``gpt-5.5``), with fallback facts for a model the catalog does not name. Its catalog
ships with the binary (``codex debug models --bundled``); ``model_catalog_json`` in
``config.toml`` names a file in the same format that replaces it. llmx keeps the facts it
acts on:

- the context window (the automatic compaction limit follows: nine tenths of it, or the
  configured limit when that is lower); ``model_context_window`` and
  ``model_auto_compact_token_limit`` in ``config.toml`` override it, as in Codex;
- ``apply_patch``: offered, as a freeform tool, only to a model whose entry says
  ``apply_patch_tool_type: "freeform"`` (every model of the bundled catalog); a model the
  catalog does not know is not offered it (Codex's requests for ``mock-model``, ``gpt-5``
  or ``o3`` carry none);
- the shell tools (``exec_command``, ``write_stdin``): offered unless the entry's
  ``shell_type`` is ``disabled``;
- the web search tool also searching images (``web_search_tool_type: text_and_image``).

Codex runs most models of its bundled catalog in "code mode" (``tool_mode:
code_mode_only``: one JavaScript tool in an ``additional_tools`` input item instead of
``tools``); llmx has no code mode and offers those models its function tools.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

# A model Codex does not know gets this window (its fallback model info).
DEFAULT_CONTEXT_WINDOW = 272_000


class ModelFamily(msgspec.Struct, frozen=True):
    # The slug the entry is matched by (a prefix of the model's name; "" for the fallback).
    prefix: str
    context_window: int = DEFAULT_CONTEXT_WINDOW
    # apply_patch is offered (as a freeform tool where the API has them).
    apply_patch: bool = False
    # exec_command and write_stdin are offered (``shell_type`` other than ``disabled``).
    shell: bool = True
    # The web search tool also searches images.
    search_images: bool = False


def _bundled(slug: str, context_window: int = DEFAULT_CONTEXT_WINDOW) -> ModelFamily:
    # Every entry of Codex 0.169's bundled catalog: freeform apply_patch, unified exec,
    # text-and-image web search.
    return ModelFamily(slug, context_window, apply_patch=True, search_images=True)


# Codex 0.169's bundled catalog (tests compare it with ``codex debug models --bundled``).
BUNDLED: tuple[ModelFamily, ...] = (
    _bundled("gpt-6-astra"),
    _bundled("gpt-6.1-sol"),
    _bundled("gpt-6.1-terra", 500_000),
    _bundled("gpt-6-sol"),
    _bundled("gpt-6-luna"),
    _bundled("gpt-5.6-sol"),
    _bundled("gpt-5.6-terra"),
    _bundled("gpt-5.6-luna"),
    _bundled("gpt-daybreak-blue-latest"),
    _bundled("gpt-daybreak-red-latest", 372_000),
    _bundled("gpt-5.5"),
    _bundled("codex-auto-review"),
)
FALLBACK = ModelFamily("")


class CatalogError(ValueError):
    """A ``model_catalog_json`` file that cannot be read or is not a catalog."""


def model_family(model: str, catalog: tuple[ModelFamily, ...] | None = None) -> ModelFamily:
    """The entry of ``model``: the longest slug of ``catalog`` (the bundled one by
    default) that the name starts with; the fallback when none does."""
    best = FALLBACK
    for family in BUNDLED if catalog is None else catalog:
        if model.startswith(family.prefix) and len(family.prefix) > len(best.prefix):
            best = family
    return best


def load_catalog(path: Path) -> tuple[ModelFamily, ...]:
    """The entries of a catalog file in Codex's format (``{"models": [{"slug", ...}]}``),
    as ``model_catalog_json`` names one. Fields llmx does not act on are ignored."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(f"cannot read it ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise CatalogError(f"not JSON ({exc})") from None
    models = document.get("models") if isinstance(document, dict) else None
    if not isinstance(models, list):
        raise CatalogError('not a model catalog: expected {"models": [...]}')
    return tuple(_entry(index, entry) for index, entry in enumerate(models))


def _entry(index: int, entry: Any) -> ModelFamily:
    if not isinstance(entry, dict) or not isinstance(entry.get("slug"), str):
        raise CatalogError(f"models[{index}] has no slug")
    window = entry.get("context_window")
    patch = entry.get("apply_patch_tool_type")
    if patch not in (None, "freeform"):
        # Codex 0.169 knows only the freeform form (and none).
        raise CatalogError(f"models[{index}] ({entry['slug']}): apply_patch_tool_type "
                           f"{patch!r} is not freeform or null")
    return ModelFamily(
        entry["slug"],
        window if isinstance(window, int) and window > 0 else DEFAULT_CONTEXT_WINDOW,
        apply_patch=patch == "freeform",
        shell=entry.get("shell_type") != "disabled",
        search_images=entry.get("web_search_tool_type") == "text_and_image",
    )


def context_window(model: str, configured: int | None,
                   catalog: tuple[ModelFamily, ...] | None = None) -> int:
    """The model's context window in tokens: the configured one, else its entry's."""
    return configured if configured is not None else model_family(model, catalog).context_window


def auto_compact_limit(model: str, configured_window: int | None,
                       configured_limit: int | None,
                       catalog: tuple[ModelFamily, ...] | None = None) -> int:
    """The token count of the context at which a thread is compacted before it goes on:
    nine tenths of the context window, or the configured limit when that is lower."""
    window_limit = context_window(model, configured_window, catalog) * 9 // 10
    if configured_limit is not None and configured_limit > 0:
        return min(configured_limit, window_limit)
    return window_limit


def web_search_tool(model: str, mode: str,
                    catalog: tuple[ModelFamily, ...] | None = None) -> dict[str, object] | None:
    """The ``web_search`` tool as Codex 0.169 sends it for ``mode`` (``cached``: from the
    provider's index only; ``live``: also the live web), None when ``disabled``."""
    if mode == "disabled":
        return None
    tool: dict[str, object] = {"type": "web_search", "external_web_access": mode == "live"}
    if model_family(model, catalog).search_images:
        tool["search_content_types"] = ["text", "image"]
    return tool
