"""``llmx sessions rename ID NAME``: name a session as Codex's ``/rename`` does.

The session is opened through the runtime's door and a ``SetThreadName`` op submitted:
its rollout gets a ``thread_name_updated`` line and the name log
``session_index.jsonl`` a new entry, which listings read (the last entry wins). Nothing
else is written; no turn runs.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from llmx.cli.errors import CommandError


def run_rename(args: argparse.Namespace) -> int:
    from llmx.runtime import ThreadError

    name = " ".join(str(args.name).split())
    if not name:
        raise CommandError("the name is empty", "give the session a name")
    try:
        thread_id = asyncio.run(_rename(str(args.ref), name))
    except ThreadError as exc:
        raise CommandError(exc.what, exc.todo) from None
    # The full id, whatever reference was given (a prefix, an earlier name).
    print(f"named session {thread_id}: {name}")
    return 0


async def _rename(ref: str, name: str) -> str:
    from llmx.cli.errors import warn
    from llmx.events.ops import SetThreadName
    from llmx.runtime import ThreadError, ThreadManager, ThreadOptions, ThreadRef

    async with ThreadManager(on_warning=lambda text: warn("sessions rename", text)) as manager:
        thread = await manager.resume(ThreadRef.by_id(ref), ThreadOptions(cwd=Path("/")))
        events = thread.subscribe()
        await thread.submit(SetThreadName(name=name))
        async for line in events:
            if line.payload_type == "thread_name_updated":
                break
            if line.payload_type in ("error", "warning"):
                item = line.item()
                raise ThreadError(str(getattr(item, "message", "the name was refused")),
                                  "try again")
        await events.aclose()
        await thread.close()
    return thread.thread_id
