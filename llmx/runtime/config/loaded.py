"""``LoadedConfig``: a validated configuration with where it came from.

Apart from :mod:`~llmx.runtime.config.load`, so that code which passes a loaded configuration around
(the runtime's door) names its type without importing the loader and ``tomllib``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from llmx.runtime.config.tables import Config, ModelProviderInfo


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
