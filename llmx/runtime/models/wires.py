"""Which client speaks a provider's wire API: the Responses API or Chat Completions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from llmx.runtime.config.types import WireApi
from llmx.runtime.models.client import HttpModelClient
from llmx.runtime.models.request import DEFAULT_ORIGINATOR

if TYPE_CHECKING:
    import httpx

    from llmx.runtime.config.tables import ModelProviderInfo


def open_model_client(
    provider_id: str,
    provider: ModelProviderInfo,
    *,
    originator: str = DEFAULT_ORIGINATOR,
    env: Mapping[str, str] | None = None,
    http_client: httpx.AsyncClient | None = None,
) -> HttpModelClient:
    """The client for ``provider.wire_api``: Responses API or Chat Completions.

    A client given ``http_client`` leaves closing it to the caller; otherwise it makes
    its own and closes it in ``aclose``.
    """
    # Imported here: a run loads only the wire it speaks.
    cls: type[HttpModelClient]
    if provider.wire_api is WireApi.CHAT:
        from llmx.runtime.models.chat import ChatCompletionsClient

        cls = ChatCompletionsClient
    else:
        from llmx.runtime.models.responses import ResponsesClient

        cls = ResponsesClient
    return cls(provider_id, provider, originator=originator, env=env, http_client=http_client)
