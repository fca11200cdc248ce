"""``llmx fork``: a new session continuing a recorded one, from its start up to a turn.

The fork is written as Codex 0.169 writes forks: a new rollout whose ``session_meta``
points into the parent's file (``history_base``), nothing copied. The new session's id
is printed; continue it with ``llmx exec resume ID`` (or Codex's ``codex exec resume``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmx.cli.arg_types import positive_int

if TYPE_CHECKING:
    from llmx.runtime import ThreadRef


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "fork", help="start a new session from a recorded one, up to a turn",
        description="Fork a recorded session into a new one that keeps its history up to "
        "the end of turn N (all of it by default), without copying it.",
    )
    parser.add_argument("session", metavar="ID|PATH",
                        help="the session: an id, a unique id prefix, a thread name or a "
                        "rollout file")
    parser.add_argument("--turn", type=positive_int, metavar="N",
                        help="keep turns 1 to N (numbered as 'llmx inspect' lists them)")
    parser.add_argument("-C", "--cd", metavar="DIR",
                        help="the new session's working directory (default: the current one)")
    parser.add_argument("--json", action="store_true",
                        help="print the new session as one JSON object")
    parser.add_argument("-c", "--config", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config.toml key (TOML value; repeatable)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from llmx.cli.errors import CommandError, route_log_warnings
    from llmx.cli.thread_errors import thread_error
    from llmx.runtime import ThreadError

    route_log_warnings("fork")
    cwd = Path(args.cd).expanduser() if args.cd else Path.cwd()
    if not cwd.is_dir():
        raise CommandError(f"-C {args.cd}: no such directory", "pass an existing directory")
    from llmx.runtime import ThreadRef

    session = str(args.session)
    if session.endswith(".jsonl") and Path(session).is_file():
        ref = ThreadRef.by_path(session)
    else:
        ref = ThreadRef.by_id(session)
    try:
        forked = asyncio.run(_fork(args, ref, cwd.resolve()))
    except ThreadError as exc:
        raise thread_error(exc) from None
    if args.json:
        print(json.dumps(forked))
    else:
        print(f"{forked['thread_id']}  {forked['rollout_path']}")
    return 0


async def _fork(args: argparse.Namespace, ref: ThreadRef, cwd: Path) -> dict[str, Any]:
    import json

    from llmx.cli.errors import warn
    from llmx.events.raw_lines import first_line
    from llmx.runtime import ThreadManager, ThreadOptions

    options = ThreadOptions(cwd=cwd, config_overrides=tuple(args.config))
    async with ThreadManager(originator="llmx_exec", source="exec",
                             on_warning=lambda message: warn("fork", message)) as manager:
        thread = await manager.fork(ref, options, turn=args.turn)
        await thread.close()
    path = thread.rollout_path
    assert path is not None  # a fork is written at once
    # What the new file says it continues, as written.
    first = first_line(path)
    assert first is not None  # written whole before the fork returns
    meta = json.loads(first.data)["payload"]
    return {"thread_id": thread.thread_id, "rollout_path": str(path),
            "forked_from_id": meta.get("forked_from_id"),
            "history_base": meta.get("history_base")}
