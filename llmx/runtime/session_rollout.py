"""The ``[rollout]`` settings of ``config.toml`` as the event log's ``RolloutOptions``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmx.events.event_log import Durability, RolloutOptions
from llmx.runtime.config_types import FsyncPolicy

if TYPE_CHECKING:
    from llmx.runtime.config import RolloutConfig

_DURABILITY = {
    FsyncPolicy.TURN: Durability.TURN,
    FsyncPolicy.ALWAYS: Durability.BATCH,
    FsyncPolicy.NEVER: Durability.CLOSE,
}


def rollout_options(config: RolloutConfig, *, subscriber_capacity: int) -> RolloutOptions:
    """``fsync`` picks the writer's durability; an ``inline_output_cap_bytes`` of 0 means
    outputs are never capped (everything stays inline)."""
    cap = config.inline_output_cap_bytes
    return RolloutOptions(
        durability=_DURABILITY[config.fsync],
        persist_deltas=config.persist_deltas,
        inline_output_limit=cap if cap > 0 else None,
        subscriber_capacity=subscriber_capacity,
    )
