"""The bridge between wire JSON and the rollout schema's ``ResponseItem``.

Clients speak JSON; the rest of llmx speaks ``ResponseItem``. Keeping the conversion in
one place means the clients do not care how the schema represents an item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import msgspec

# A model-context item in Codex's JSON shape (``{"type": "message", ...}``).
ResponseItem: TypeAlias = dict[str, Any]


def item_from_wire(raw: Mapping[str, Any]) -> ResponseItem:
    """The typed item for a JSON object the server sent."""
    return dict(raw)


def items_to_wire(items: Sequence[Any]) -> list[Any]:
    """Request ``input`` items as JSON-ready builtins (accepts Structs and plain dicts)."""
    return [msgspec.to_builtins(item) for item in items]
