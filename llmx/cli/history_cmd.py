"""``llmx history``: the global prompt history (``history.jsonl``), newest last."""

from __future__ import annotations

import argparse
from datetime import UTC
from pathlib import Path
from typing import Any

from llmx.cli.arg_types import positive_int


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "history", help="show submitted prompts from history.jsonl"
    )
    parser.add_argument("--limit", type=positive_int, default=20, metavar="N",
                        help="show the N newest matching prompts (default 20)")
    parser.add_argument("--search", metavar="TEXT", help="only prompts containing TEXT (any case)")
    parser.add_argument("--json", action="store_true", help="one JSON object per prompt")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import json
    from datetime import datetime

    from llmx.cli.errors import fail, os_error, report_error, warn
    from llmx.events.history import HistoryFile, LockTimeout
    from llmx.events.home import history_path, llmx_home

    history = HistoryFile(history_path(llmx_home()))
    try:
        scan = history.read_all()
    except LockTimeout as error:
        return fail("history", str(error))
    except OSError as error:
        return report_error("history", os_error(error, history.path, doing="cannot read"))
    entries = scan.entries
    if args.search:
        needle = args.search.casefold()
        entries = [e for e in entries if needle in e.text.casefold()]
    shown = entries[-args.limit :]
    width = 0 if args.json else _short_id_width(llmx_home(), [e.session_id for e in shown])
    for entry in shown:
        if args.json:
            line = {"session_id": entry.session_id, "ts": entry.ts, "text": entry.text}
            print(json.dumps(line, ensure_ascii=False))
        else:
            when = datetime.fromtimestamp(entry.ts, tz=UTC).strftime("%Y-%m-%d %H:%M")
            text = " ".join(entry.text.split())
            print(f"{when}  {entry.session_id[:width]}  {text}")
    if scan.unreadable_lines:
        warn("history", f"skipped {scan.unreadable_lines} unreadable line(s) in {history.path}")
    return 0


def _short_id_width(home: Path, shown: list[str]) -> int:
    """A prefix length unique among the sessions the home knows, so that what is shown
    can be passed back to ``llmx exec resume`` (the ids of the first characters of a
    UUIDv7 are its timestamp, shared by every session started in the same minute)."""
    import sqlite3

    from llmx.cli.errors import warn
    from llmx.projections.sessions.listing import known_session_ids, short_id_length

    try:
        known = known_session_ids(home)
    except (sqlite3.Error, OSError) as error:
        warn("history", f"cannot read the session index ({error}); ids are shown in full")
        return 36
    return short_id_length(shown, known)
