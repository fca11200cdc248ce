"""Requests about the server rather than a thread: ``initialize``, ``model/list``,
``config/read`` and ``account/read``."""

from __future__ import annotations

import asyncio
import os
import platform
from typing import TYPE_CHECKING, Any

from llmx.cli.app_server.context import PROTOCOL_VERSION, ServerContext
from llmx.cli.app_server.params import (
    ConfigReadParams,
    GetAccountParams,
    InitializeParams,
    ModelListParams,
    decode,
)
from llmx.cli.app_server.rpc import invalid_request

if TYPE_CHECKING:
    from llmx.cli.app_server.connection import Connection
    from llmx.runtime.config.loaded import LoadedConfig

_EFFORTS = ("minimal", "low", "medium", "high")


def user_agent(client_name: str, client_version: str) -> str:
    """Codex's shape: ``<client>/<version> (<OS> <release>; <arch>) <terminal> (<client>;
    <client version>)``; clients read the server version from the part after the slash."""
    system = platform.system() or "Linux"
    terminal = os.environ.get("TERM_PROGRAM") or os.environ.get("TERM") or "unknown"
    return (f"{client_name}/{PROTOCOL_VERSION} ({system} {platform.release()}; "
            f"{platform.machine()}) {terminal} ({client_name}; {client_version})")


class Catalog:
    def __init__(self, context: ServerContext) -> None:
        self.context = context

    def handlers(self) -> dict[str, Any]:
        return {
            "initialize": self.initialize,
            "model/list": self.model_list,
            "config/read": self.config_read,
            "account/read": self.account_read,
        }

    def load(self) -> LoadedConfig:
        from llmx.runtime.config.load import load_config
        from llmx.runtime.config.types import ConfigError

        try:
            return load_config(self.context.home, overrides=self.context.overrides)
        except ConfigError as exc:
            raise invalid_request(f"failed to load configuration: {exc}") from None

    async def initialize(self, conn: Connection, raw: Any) -> dict[str, Any]:
        params = decode(raw, InitializeParams)
        conn.client_name = params.client_info.name
        conn.client_version = params.client_info.version
        capabilities = params.capabilities
        if capabilities is not None and capabilities.opt_out_notification_methods:
            conn.opted_out = frozenset(capabilities.opt_out_notification_methods)
        conn.initialized = True
        system = platform.system().lower()
        return {
            "userAgent": user_agent(params.client_info.name, params.client_info.version),
            "codexHome": str(self.context.home),
            "platformFamily": "windows" if system == "windows" else "unix",
            "platformOs": {"darwin": "macos", "windows": "windows"}.get(system, "linux"),
        }

    async def model_list(self, conn: Connection, raw: Any) -> dict[str, Any]:
        decode(raw if raw is not None else {}, ModelListParams)
        loaded = await asyncio.to_thread(self.load)
        config = loaded.config
        effort = config.model_reasoning_effort.value if config.model_reasoning_effort else None
        # llmx has no model catalogue: the model the config names is the one it offers.
        model = {
            "id": config.model, "model": config.model, "displayName": config.model,
            "description": f"the model configured for provider {loaded.provider_id}",
            "hidden": False, "isDefault": True,
            "defaultReasoningEffort": effort or "medium",
            "supportedReasoningEfforts": [
                {"reasoningEffort": name, "description": f"{name} reasoning effort"}
                for name in _EFFORTS
            ],
            "inputModalities": ["text", "image"], "supportsPersonality": False,
            "upgrade": None, "upgradeInfo": None, "availabilityNux": None,
            "additionalSpeedTiers": [], "serviceTiers": [], "defaultServiceTier": None,
        }
        return {"data": [model], "nextCursor": None}

    async def config_read(self, conn: Connection, raw: Any) -> dict[str, Any]:
        decode(raw if raw is not None else {}, ConfigReadParams)
        loaded = await asyncio.to_thread(self.load)
        origins = {
            key: {"name": {"type": "user", "file": str(loaded.path)}, "version": "0"}
            for key in loaded.document
        }
        return {"config": dict(loaded.document), "origins": origins, "layers": None}

    async def account_read(self, conn: Connection, raw: Any) -> dict[str, Any]:
        decode(raw if raw is not None else {}, GetAccountParams)
        # Providers authenticate with their own keys (``env_key``); there is no account.
        return {"account": None, "requiresOpenaiAuth": False, "userId": None,
                "workspaceRouting": None}
