"""The bridge between wire JSON and the rollout schema's ``ResponseItem``.

Clients speak JSON; the rest of llmx speaks
:data:`llmx.events.response_items.ResponseItem`. Keeping the conversion in one place means
the clients do not care how the schema represents an item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from llmx.events.response_items import ResponseItem

__all__ = ["ResponseItem", "item_from_wire", "items_to_wire"]


def item_from_wire(raw: Mapping[str, Any]) -> ResponseItem | None:
    """The typed item for a JSON object the server sent, or ``None`` for a kind the schema
    does not know (Codex drops those too: they never reach the history)."""
    try:
        item: ResponseItem = msgspec.convert(raw, ResponseItem)
    except msgspec.ValidationError:
        return None
    return item


def items_to_wire(items: Sequence[Any], *, keep_raw: bool = False) -> list[Any]:
    """Request ``input`` items as JSON-ready builtins (accepts Structs and plain dicts).

    ``msgspec.Raw`` items (a resumed session's history, as recorded) are decoded; with
    ``keep_raw`` they are left as they are, for a body that ``msgspec.json.encode`` writes
    (it copies their bytes instead of encoding them again).
    """
    return [_to_wire(item, keep_raw) for item in items]


def _to_wire(item: Any, keep_raw: bool) -> Any:
    if isinstance(item, msgspec.Raw):
        return item if keep_raw else msgspec.json.decode(bytes(item))
    return msgspec.to_builtins(item)
