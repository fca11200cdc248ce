"""The session index and what reads it: which sessions a home (or a shared database) holds.

- :mod:`~llmx.projections.sessions.index`: the sqlite index (``$LLMX_HOME/state.sqlite``),
  kept in step with the rollout files and never trusted over them;
  :mod:`~llmx.projections.sessions.index_schema` its tables.
- :mod:`~llmx.projections.sessions.scan` and :mod:`~llmx.projections.sessions.summary`:
  which bytes of a rollout the index reads, and what it keeps of them.
- :mod:`~llmx.projections.sessions.listing`: listing, searching and resolving sessions
  over the index (Codex's rules); :mod:`~llmx.projections.sessions.preview` the last
  messages of one, for the resume picker.
- The shared index on PostgreSQL: :mod:`~llmx.projections.sessions.index_pg` (the one
  module that talks to the server), :mod:`~llmx.projections.sessions.listing_shared`, and
  :mod:`~llmx.projections.sessions.sync` (``llmx sessions sync``).

Thread names are not here: they live in Codex's name log, ``session_index.jsonl``
(:mod:`llmx.projections.thread_names`), which listings read beside the index.
Nothing is imported here: each user names the module it needs.
"""
