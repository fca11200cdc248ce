"""The event store: Codex-compatible schema, codec, rollout files and ``history.jsonl``.

Imports nothing else from llmx.
"""
