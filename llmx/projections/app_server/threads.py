"""The v2 ``Thread`` object: what ``thread/list``, ``thread/read`` and ``thread/start``
say about a thread, every field present as Codex 0.169 sends it."""

from __future__ import annotations

from typing import Any

from msgspec import Struct

from llmx.projections.app_server.notifications import AppServerFold

# ``SessionSource`` values the v2 protocol knows; any other source reads ``unknown``.
_SOURCES = {"cli": "cli", "vscode": "vscode", "exec": "exec", "mcp": "appServer",
            "app_server": "appServer", "appServer": "appServer"}


class ThreadFacts(Struct):
    """What a thread is, from its ``session_meta`` or its row in the session index."""

    id: str
    created_at: int
    updated_at: int
    cwd: str
    model_provider: str
    cli_version: str
    source: Any = "vscode"
    preview: str = ""
    path: str | None = None
    model: str | None = None
    reasoning_effort: str | None = None
    name: str | None = None
    originator: str | None = None
    forked_from_id: str | None = None
    git_branch: str | None = None
    ephemeral: bool = False


def wire_source(source: Any) -> Any:
    if isinstance(source, str):
        return _SOURCES.get(source, "unknown")
    return "unknown"


def wire_thread(facts: ThreadFacts, status: dict[str, Any],
                turns: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    git = None
    if facts.git_branch is not None:
        git = {"sha": None, "branch": facts.git_branch, "originUrl": None}
    return {
        "id": facts.id, "environments": None, "extra": None, "sessionId": facts.id,
        "forkedFromId": facts.forked_from_id, "attachedToThreadId": None,
        "parentThreadId": None, "preview": facts.preview, "ephemeral": facts.ephemeral,
        "section": None, "sectionEnteredAt": None, "projectId": None,
        "historyMode": "paginated", "modelProvider": facts.model_provider,
        "model": facts.model, "reasoningEffort": facts.reasoning_effort,
        "createdAt": facts.created_at, "updatedAt": facts.updated_at,
        "recencyAt": facts.updated_at, "status": status, "path": facts.path,
        "cwd": facts.cwd, "cliVersion": facts.cli_version, "originator": facts.originator,
        "source": wire_source(facts.source), "canAcceptDirectInput": None,
        "threadSource": None, "agentNickname": None, "agentRole": None, "gitInfo": git,
        "name": facts.name, "daybreakEnabled": None, "turns": turns or [],
    }


def preview_of(fold: AppServerFold) -> str:
    """The first user message's text, as the thread's preview."""
    for turn in fold.turns:
        for item in turn["items"]:
            if item["type"] == "userMessage":
                return "".join(part.get("text", "") for part in item["content"])
    return ""
