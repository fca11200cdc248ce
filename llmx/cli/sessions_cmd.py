"""``llmx sessions``: list, search, show, archive, unarchive, delete, reindex and sync
sessions.

``list``, ``search`` and ``show`` read the shared index on PostgreSQL when one is
configured (``--index-url`` or ``[index] url``), the home's sqlite index otherwise;
``sync`` pushes the home's rollouts into the shared index."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

from llmx.cli.arg_types import positive_int


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sessions", help="list, search and manage recorded sessions"
    )
    sub = parser.add_subparsers(dest="sessions_command", metavar="SUBCOMMAND", required=True)

    listing = sub.add_parser("list", help="sessions, newest first")
    scope = listing.add_mutually_exclusive_group()
    scope.add_argument("--cwd", metavar="DIR", help="only sessions whose latest cwd is DIR")
    scope.add_argument("--all", action="store_true", help="every directory (the default)")
    listing.add_argument("--archived", action="store_true", help="list archived sessions")
    listing.add_argument("--limit", type=positive_int, default=25, metavar="N")
    listing.add_argument("--cursor", metavar="C", help="the next_cursor of a previous page")
    listing.add_argument("--json", action="store_true", help="one JSON object")
    _add_index_url(listing)
    listing.set_defaults(handler=_index_guarded(_run_list))

    search = sub.add_parser("search", help="sessions whose user messages contain TEXT")
    search.add_argument("text", metavar="TEXT")
    search.add_argument("--limit", type=positive_int, default=25, metavar="N")
    search.add_argument("--json", action="store_true")
    _add_index_url(search)
    search.set_defaults(handler=_index_guarded(_run_search))

    show = sub.add_parser("show", help="what the index knows about one session")
    show.add_argument("ref", metavar="ID", help="full id, unique id prefix, or thread name")
    show.add_argument("--json", action="store_true")
    _add_index_url(show)
    show.set_defaults(handler=_index_guarded(_run_show))

    for name, help_text in (
        ("archive", "move a session to archived_sessions/"),
        ("unarchive", "move an archived session back to sessions/"),
        ("delete", "delete a session's rollout files"),
    ):
        action = sub.add_parser(name, help=help_text)
        action.add_argument("ref", metavar="ID", help="full id, unique id prefix, or thread name")
        if name == "delete":
            action.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        action.set_defaults(handler=_index_guarded(_run_move), move=name)

    rename = sub.add_parser("rename", help="name a session (as Codex's /rename)")
    rename.add_argument("ref", metavar="ID", help="full id, unique id prefix, or thread name")
    rename.add_argument("name", metavar="NAME")
    rename.set_defaults(handler=_run_rename)

    prune = sub.add_parser("prune", help="delete sessions last written before a cutoff")
    prune.add_argument("--older-than", required=True, metavar="AGE",
                       help="sessions last written more than AGE ago (90m, 12h, 30d, 8w)")
    prune.add_argument("--dry-run", action="store_true",
                       help="only list what would be deleted")
    prune.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    prune.set_defaults(handler=_index_guarded(_run_prune))

    size = sub.add_parser("size", help="disk used by sessions, and the largest ones")
    size.add_argument("--top", type=positive_int, default=10, metavar="N",
                      help="list the N largest sessions (default 10)")
    size.add_argument("--json", action="store_true")
    size.set_defaults(handler=_index_guarded(_run_size))

    reindex = sub.add_parser("reindex", help="rebuild the session index from the files")
    reindex.set_defaults(handler=_index_guarded(_run_reindex))

    sync = sub.add_parser("sync", help="send this home's sessions to the shared index")
    _add_index_url(sync)
    sync.set_defaults(handler=_run_sync)


def _add_index_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index-url", metavar="URL",
        help="the shared index (postgresql://...), instead of [index] url of config.toml",
    )


def _shared_url(args: argparse.Namespace) -> str | None:
    from llmx.cli.shared_index import index_url
    from llmx.events.home import llmx_home

    return index_url(llmx_home(), getattr(args, "index_url", None))


@contextlib.contextmanager
def _shared(url: str) -> Iterator[Any]:
    """The shared index at ``url``; its failures are one error line."""
    from llmx.cli.errors import CommandError
    from llmx.projections.sessions.index_pg import SharedIndex, SharedIndexError

    try:
        with SharedIndex.connect(url) as shared:
            yield shared
    except SharedIndexError as error:
        raise CommandError(error.what, error.todo) from None


def _index_guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[
    [argparse.Namespace], int
]:
    """``handler`` with a failure of the session index reported as one error line."""

    def guarded(args: argparse.Namespace) -> int:
        from llmx.cli.index_failures import index_failures
        from llmx.events.home import llmx_home

        with index_failures(llmx_home()):
            return handler(args)

    return guarded


def _fail(args: argparse.Namespace, message: str, todo: str | None = None) -> int:
    from llmx.cli.errors import fail

    return fail(f"sessions {args.sessions_command}", message, todo)


def _run_list(args: argparse.Namespace) -> int:
    from pathlib import Path

    from llmx.cli.sessions_render import print_page
    from llmx.events.home import llmx_home
    from llmx.projections.sessions.index import SessionIndex
    from llmx.projections.sessions.listing import CursorError, list_sessions

    cwd = Path(args.cwd) if args.cwd else None
    url = _shared_url(args)
    if url is not None:
        from llmx.projections.sessions.listing_shared import list_shared

        with _shared(url) as shared:
            try:
                page = list_shared(shared, cwd=cwd, archived=args.archived, limit=args.limit,
                                   cursor=args.cursor)
            except CursorError as error:
                return _fail(args, str(error))
        print_page(page, as_json=args.json)
        return 0
    with SessionIndex.open(llmx_home()) as index:
        try:
            page = list_sessions(
                index, cwd=cwd, archived=args.archived, limit=args.limit, cursor=args.cursor
            )
        except CursorError as error:
            return _fail(args, str(error))
    print_page(page, as_json=args.json)
    return 0


def _run_search(args: argparse.Namespace) -> int:
    from llmx.cli.sessions_render import print_rows
    from llmx.events.home import llmx_home
    from llmx.projections.sessions.index import SessionIndex
    from llmx.projections.sessions.listing import search_sessions

    url = _shared_url(args)
    if url is not None:
        from llmx.projections.sessions.listing_shared import search_shared

        with _shared(url) as shared:
            print_rows(search_shared(shared, args.text, limit=args.limit), as_json=args.json)
        return 0
    with SessionIndex.open(llmx_home()) as index:
        index.sync()
        backlog = index.search_backlog()
        if backlog:
            # Files never read whole yet (new ones, the middles of large ones): read
            # them now, with a progress bar on stderr (stdout may be --json).
            with _progress_bar("reading rollout files for search") as advance:
                index.complete_search(advance, backlog=backlog)
        rows = search_sessions(index, args.text, limit=args.limit)
    print_rows(rows, as_json=args.json)
    return 0


@contextlib.contextmanager
def _progress_bar(label: str) -> Iterator[Callable[[int, int], None] | None]:
    if not sys.stderr.isatty():
        yield None  # nothing to redraw in a log or a pipe
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def _run_show(args: argparse.Namespace) -> int:
    from llmx.cli.sessions_render import print_detail
    from llmx.events.home import llmx_home
    from llmx.projections.sessions.index import SessionIndex
    from llmx.projections.sessions.listing import (
        SessionLookupError,
        get_session,
        resolve_session_id,
    )

    url = _shared_url(args)
    if url is not None:
        return _show_shared(args, url)
    with SessionIndex.open(llmx_home()) as index:
        try:
            row = get_session(index, resolve_session_id(index, args.ref))
        except SessionLookupError as error:
            return _fail(args, str(error))
    if row is None:
        return _fail(args, f"session {args.ref!r} disappeared while reading it", "try again")
    print_detail(row, as_json=args.json)
    return 0


def _run_move(args: argparse.Namespace) -> int:
    from llmx.cli.sessions_files import SessionFileError, move_session

    try:
        message = move_session(args.move, args.ref, confirmed=getattr(args, "yes", False))
    except SessionFileError as error:
        return _fail(args, str(error))
    print(message)
    return 0


def _run_rename(args: argparse.Namespace) -> int:
    from llmx.cli.sessions_rename import run_rename

    return run_rename(args)


def _run_prune(args: argparse.Namespace) -> int:
    from llmx.cli.sessions_prune import (
        PruneError,
        confirm,
        delete_sessions,
        describe,
        human_size,
        parse_duration,
        plan_prune,
    )
    from llmx.events.home import llmx_home
    from llmx.projections.sessions.index import SessionIndex

    try:
        older_than = parse_duration(args.older_than)
    except PruneError as error:
        return _fail(args, str(error))
    with SessionIndex.open(llmx_home()) as index:
        index.sync(full=True)
        plan = plan_prune(index, older_than)
        verb = "would delete" if args.dry_run else "deleting"
        for session in plan.delete:
            print(f"{verb}  {describe(session)}")
        for session in plan.keep:
            print(f"keeping  {describe(session)}  ({session.kept_because})")
        size = sum(session.size for session in plan.delete)
        if not plan.delete:
            print(f"no session was last written more than {args.older_than} ago"
                  + (" that can go" if plan.keep else ""))
            return 0
        if args.dry_run:
            print(f"{len(plan.delete)} session(s), {human_size(size)} would be deleted")
            return 0
        if not args.yes and not confirm(len(plan.delete), size):
            return _fail(args, f"not deleting {len(plan.delete)} session(s)",
                         "pass --yes to delete without asking, or --dry-run to look first")
        delete_sessions(index, plan.delete)
    print(f"deleted {len(plan.delete)} session(s), {human_size(size)}")
    return 0


def _run_size(args: argparse.Namespace) -> int:
    import json

    from llmx.cli.sessions_prune import human_size, size_report
    from llmx.events.home import llmx_home
    from llmx.projections.sessions.index import SessionIndex

    home = llmx_home()
    with SessionIndex.open(home) as index:
        index.sync(full=True)
        report = size_report(home, index, args.top)
    if args.json:
        print(json.dumps(report))
        return 0
    areas = report["areas"]
    assert isinstance(areas, dict)
    for name, area in areas.items():
        print(f"{name + '/':<19} {area['files']:>6} file(s)  {human_size(area['bytes']):>10}")
    largest = report["largest"]
    assert isinstance(largest, list)
    if largest:
        print(f"largest of {report['sessions']} session(s):")
    for row in largest:
        where = " (archived)" if row["archived"] else ""
        preview = " ".join(str(row["preview"]).split())[:60]
        print(f"  {row['id']}  {human_size(row['bytes']):>10}{where}  {preview}")
    return 0


def _run_reindex(args: argparse.Namespace) -> int:
    from llmx.events.home import llmx_home
    from llmx.projections.sessions.index import SessionIndex

    home = llmx_home()
    with _progress_bar("indexing rollout files") as advance, SessionIndex.open(home) as index:
        index.rebuild(advance)
        count = index.conn.execute("SELECT count(*) FROM threads").fetchone()[0]
    print(f"indexed {count} sessions from {home}")
    return 0


def _show_shared(args: argparse.Namespace, url: str) -> int:
    from llmx.cli.sessions_render import print_detail
    from llmx.projections.sessions.listing import SessionLookupError
    from llmx.projections.sessions.listing_shared import get_shared, resolve_shared

    with _shared(url) as shared:
        try:
            found = get_shared(shared, resolve_shared(shared, args.ref))
        except SessionLookupError as error:
            return _fail(args, str(error))
    if found is None:
        return _fail(args, f"session {args.ref!r} disappeared while reading it", "try again")
    row, origin = found
    print_detail(row, as_json=args.json, origin=origin)
    return 0


def _run_sync(args: argparse.Namespace) -> int:
    from llmx.cli.shared_index import index_origin, index_url
    from llmx.events.home import llmx_home
    from llmx.projections.sessions.sync import sync_home

    home = llmx_home()
    url = index_url(home, args.index_url)
    if url is None:
        return _fail(args, "no shared index is configured",
                     "pass --index-url postgresql://... or set [index] url in config.toml")
    machine, user = index_origin(home)
    with _shared(url) as shared, _progress_bar("sending rollout files") as advance:
        report = sync_home(shared, home, machine=machine, user=user, progress=advance)
    print(
        f"synced {home} as {user}@{machine}: {report.files_sent} of "
        f"{report.files_seen} rollout files sent ({report.bytes_read} bytes read), "
        f"{report.files_removed} removed; {report.threads} sessions"
    )
    return 0
