"""The model providers every configuration has, as in Codex."""

from __future__ import annotations

import os
from collections.abc import Mapping

from llmx.runtime.config.tables import ModelProviderInfo, WireApi
from llmx.runtime.config.types import ConfigError, base_url_problem

OPENAI_PROVIDER_ID = "openai"
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Local open-weight servers speak Chat Completions everywhere; not all of them speak Responses.
OLLAMA_DEFAULT_BASE_URL = "http://localhost:11434/v1"
LMSTUDIO_DEFAULT_BASE_URL = "http://localhost:1234/v1"


def built_in_providers(env: Mapping[str, str] | None = None) -> dict[str, ModelProviderInfo]:
    """``openai``, ``ollama`` (also under its older id ``oss``) and ``lmstudio``.

    ``OPENAI_BASE_URL`` moves the OpenAI provider (a proxy, Azure-style gateway...), as
    Codex allows.
    """
    environ = os.environ if env is None else env
    base_url = environ.get("OPENAI_BASE_URL") or OPENAI_DEFAULT_BASE_URL
    problem = base_url_problem(base_url)
    if problem is not None:
        raise ConfigError(f"OPENAI_BASE_URL={base_url!r} {problem} — set it to the API's "
                          "address, such as https://api.openai.com/v1, or unset it")
    openai = ModelProviderInfo(
        name="OpenAI",
        base_url=base_url,
        env_key="OPENAI_API_KEY",
        env_key_instructions=(
            "Create an API key (https://platform.openai.com) and export it as OPENAI_API_KEY."
        ),
        wire_api=WireApi.RESPONSES,
        requires_openai_auth=True,
    )
    ollama = ModelProviderInfo(
        name="Ollama", base_url=OLLAMA_DEFAULT_BASE_URL, wire_api=WireApi.CHAT
    )
    lmstudio = ModelProviderInfo(
        name="LM Studio", base_url=LMSTUDIO_DEFAULT_BASE_URL, wire_api=WireApi.CHAT
    )
    return {OPENAI_PROVIDER_ID: openai, "ollama": ollama, "oss": ollama, "lmstudio": lmstudio}


def merge_providers(
    configured: Mapping[str, ModelProviderInfo], env: Mapping[str, str] | None = None
) -> dict[str, ModelProviderInfo]:
    """Built-ins plus the user's; a built-in id keeps its built-in definition, as in Codex."""
    merged = dict(configured)
    merged.update(built_in_providers(env))
    return merged
