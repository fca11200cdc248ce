"""The rollout file a command is given: a path, or a session looked up under ``$LLMX_HOME``.

``replay`` and ``inspect`` take either, as ``resume`` takes a session: a full id, a
thread name (``sessions rename``) or a unique id prefix, found through the session
index (which catches up with the sessions folder first).
"""

from __future__ import annotations

from pathlib import Path


def rollout_file(ref: str) -> Path:
    """The file ``ref`` names. Raises ``LookupError`` with a one-line message (a folder,
    a missing path, no such session, a prefix of several) and :class:`CommandError` for
    an index that cannot be read."""
    path = Path(ref).expanduser()
    if path.is_file():
        return path
    if path.exists():
        raise LookupError(f"{ref} is not a file — pass a rollout .jsonl file or a session id")
    if "/" in ref or ref.endswith(".jsonl"):
        raise LookupError(f"no such file: {ref} — check the path")
    from llmx.cli.index_failures import index_failures
    from llmx.events.home import llmx_home
    from llmx.projections.sessions.listing import resolve_session

    home = llmx_home()
    with index_failures(home):
        return resolve_session(home, ref)
