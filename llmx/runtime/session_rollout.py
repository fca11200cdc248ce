"""The ``[rollout]`` settings of ``config.toml`` as the event log's ``RolloutOptions``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmx.events.event_log import RolloutOptions

if TYPE_CHECKING:
    from llmx.runtime.config.tables import RolloutConfig

def rollout_options(config: RolloutConfig, *, subscriber_capacity: int) -> RolloutOptions:
    """``fsync`` is the writer's own policy; an ``inline_output_cap_bytes`` of 0 means
    outputs are never capped (everything stays inline)."""
    cap = config.inline_output_cap_bytes
    return RolloutOptions(
        fsync=config.fsync,
        persist_deltas=config.persist_deltas,
        inline_output_limit=cap if cap > 0 else None,
        subscriber_capacity=subscriber_capacity,
    )
