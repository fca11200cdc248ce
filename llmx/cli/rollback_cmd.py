"""``llmx rollback``: drop the last turns of a recorded session from its history, and
with ``--revert-files`` also undo the patches those turns applied.

The session is resumed and sent a ``thread_rollback`` (Codex's op), recorded as Codex
records it (``thread_rolled_back``); the runtime does the revert (all or nothing) before
that marker. What the turns' shell commands changed is never reverted.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmx.cli.arg_types import positive_int
from llmx.cli.choices import SANDBOX_MODES

if TYPE_CHECKING:
    from llmx.runtime import ThreadRef


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "rollback", help="drop the last turns of a session (and optionally their patches)",
        description="Drop the last N turns of a recorded session from the model's history, "
        "as Codex's rollback does. Files are left as they are unless --revert-files is "
        "given: then the patches those turns applied (apply_patch) are undone, newest "
        "first, all or nothing. Changes made by shell commands cannot be reverted.",
    )
    parser.add_argument("session", metavar="ID|PATH",
                        help="the session: an id, a unique id prefix, a thread name or a "
                        "rollout file")
    parser.add_argument("--turns", type=positive_int, default=1, metavar="N",
                        help="how many of the last user turns to drop (default 1)")
    parser.add_argument("--revert-files", action="store_true",
                        help="also undo the patches those turns applied (not what their "
                        "shell commands did); refused, changing nothing, if a file changed "
                        "since")
    parser.add_argument("-C", "--cd", metavar="DIR",
                        help="the session's working directory (default: the current one)")
    parser.add_argument("-s", "--sandbox", metavar="MODE", choices=SANDBOX_MODES,
                        help="the sandbox the revert writes under: " + " | ".join(SANDBOX_MODES)
                        + " (default: the configuration's)")
    parser.add_argument("--json", action="store_true",
                        help="print the outcome as one JSON object")
    parser.add_argument("-c", "--config", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config.toml key (TOML value; repeatable)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from llmx.cli.errors import CommandError, route_log_warnings
    from llmx.cli.thread_errors import thread_error
    from llmx.runtime import ThreadError, ThreadRef
    from llmx.runtime.file_revert import SANDBOX_REFUSES

    route_log_warnings("rollback")
    cwd = Path(args.cd).expanduser() if args.cd else Path.cwd()
    if not cwd.is_dir():
        raise CommandError(f"-C {args.cd}: no such directory", "pass an existing directory")
    session = str(args.session)
    if session.endswith(".jsonl") and Path(session).is_file():
        ref = ThreadRef.by_path(session)
    else:
        ref = ThreadRef.by_id(session)
    try:
        outcome = asyncio.run(_roll_back(args, ref, cwd.resolve()))
    except ThreadError as exc:
        raise thread_error(exc) from None
    if "error" in outcome:
        error = outcome["error"]
        todo = None
        if args.revert_files and SANDBOX_REFUSES in error:
            todo = ("run it again with -s workspace-write (the sandbox the revert writes "
                    "under), or without --revert-files to keep the files as they are")
        elif args.revert_files and error.startswith("cannot revert"):
            todo = "run it again without --revert-files to keep the files as they are"
        raise CommandError(error, todo)
    if args.json:
        print(json.dumps(outcome))
        return 0
    print(_summary(args.turns, outcome["turns_dropped"], outcome["thread_id"]))
    for line in outcome["reverted"]:
        print(f"reverted {line}")
    if args.revert_files:
        print("changes made by shell commands were not reverted")
    return 0


def _summary(asked: int, dropped: int, thread_id: str) -> str:
    """The first line of the plain output: how many turns left the history, and when
    that is fewer than asked, why."""
    if dropped == asked:
        return f"rolled back {asked} turn{'s' if asked != 1 else ''} of {thread_id}"
    if dropped == 0:
        return f"rolled back no turn of {thread_id}: its history has none left ({asked} asked)"
    return (f"rolled back {dropped} turn{'s' if dropped != 1 else ''} of {thread_id}, all "
            f"its history had ({asked} asked)")


async def _roll_back(args: argparse.Namespace, ref: ThreadRef, cwd: Path) -> dict[str, Any]:
    from llmx.cli.errors import warn
    from llmx.events.event_msgs import ErrorEvent, ItemCompleted, ThreadRolledBack
    from llmx.events.ops import ThreadRollback
    from llmx.events.primitives import AddFile, DeleteFile
    from llmx.events.turn_items import REVERT_ITEM_PREFIX, FileChangeItem
    from llmx.runtime import ThreadManager, ThreadOptions

    options = ThreadOptions(cwd=cwd, config_overrides=tuple(args.config),
                            sandbox_mode=args.sandbox)
    outcome: dict[str, Any] = {"reverted": []}
    async with ThreadManager(originator="llmx_exec", source="exec",
                             on_warning=lambda message: warn("rollback", message)) as manager:
        thread = await manager.resume(ref, options)
        # As Codex, a rollback of more turns than there are drops them all.
        dropped = min(args.turns, thread.user_turn_count())
        events = thread.subscribe()
        await thread.submit(ThreadRollback(num_turns=args.turns,
                                           revert_files=args.revert_files))
        async for line in events:
            payload = line.item()
            if isinstance(payload, ItemCompleted) and isinstance(payload.item, FileChangeItem) \
                    and payload.item.id.startswith(REVERT_ITEM_PREFIX):
                for path, change in payload.item.changes.items():
                    letter = "A" if isinstance(change, AddFile) else (
                        "D" if isinstance(change, DeleteFile) else "M")
                    outcome["reverted"].append(f"{letter} {path}")
            elif isinstance(payload, ThreadRolledBack):
                break
            elif isinstance(payload, ErrorEvent) and \
                    payload.codex_error_info == "thread_rollback_failed":
                outcome["error"] = payload.message
                break
        await thread.close()
    outcome["thread_id"] = thread.thread_id
    outcome["num_turns"] = args.turns
    outcome["turns_dropped"] = dropped
    return outcome
