"""``llmx app-server``: Codex's app-server protocol (v2, JSON-RPC over stdio), so the
clients written for Codex (its Python SDK, IDE extensions) drive llmx unchanged."""
