"""The event store: Codex-compatible schema, codec, rollout files and ``history.jsonl``.

Layering: this package imports nothing else from llmx; projections, the runtime and the
CLI build on it. Names are imported from the module that holds them:

- ``ids`` (thread ids, timestamps), ``home`` (the layout of ``$LLMX_HOME``);
- the msgspec schema, with Codex's exact field names and tags: ``primitives``,
  ``response_items``, ``turn_items``, ``event_msgs``, ``ops`` and ``records``; beside a
  full type, its partial ``*Head`` (the few fields a fold that skips most of a payload
  reads, every one optional);
- ``lines`` (the raw-preserving line codec), ``raw_lines`` (undecoded lines with their
  byte positions, forward and backward), ``reader`` and ``reverse_reader`` (rollout
  files read forward and backward), ``event_log`` with ``sinks`` (the single writer),
  ``outputs`` (large outputs kept beside the rollout), ``redact``;
- ``history`` (``history.jsonl`` and its offset index).
"""
