"""``LoadedConfig``: a validated configuration with where it came from.

Apart from :mod:`config_types` (which the pydantic models of :mod:`config` import their
enums from) so that naming the models here makes no import cycle; the models are named
for the type checker only, as a configuration read from the cache is msgspec Structs of
the same shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from llmx.runtime.config import Config, ModelProviderInfo


class LoadedConfig(msgspec.Struct, frozen=True):
    config: Config
    provider_id: str
    provider: ModelProviderInfo
    profile: str | None
    path: Path
    warnings: tuple[str, ...]
    # The effective document (file, profile, ``-c`` and flags merged) before validation,
    # for parts read from plain mappings (``SandboxConfig.from_mapping``).
    document: Mapping[str, Any] = msgspec.field(default_factory=dict)
