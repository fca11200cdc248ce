"""What ``llmx exec`` shows, as a fold of rollout lines (live, or replayed from a file).

``stream`` folds lines of any era into the notifications of ``items``; ``human`` renders
them for a terminal (with ``header``, the banner of a run) and ``json_events`` as the
JSONL events of ``exec --json``.
"""
