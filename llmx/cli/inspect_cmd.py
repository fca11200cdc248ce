"""``llmx inspect``: the audit report of a session, or the history a resume would restore."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

# The width of the report written to a pipe or a file when $COLUMNS does not say.
PIPED_WIDTH = 120


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "inspect",
        help="audit a session: settings, commands, approvals, escalations, file changes",
        description=(
            "Show what happened in each turn of a session and on whose authority. "
            "Approvals that the rollout does not record (Codex writes none) are inferred "
            "from outcomes and marked as such."
        ),
    )
    parser.add_argument(
        "session", metavar="PATH|ID",
        help="a rollout file, or a session id, unique id prefix or thread name",
    )
    parser.add_argument("--json", action="store_true", help="one JSON document, for machines")
    parser.add_argument("--commands", action="store_true", help="only commands")
    parser.add_argument("--approvals", action="store_true",
                        help="only approvals and escalations")
    parser.add_argument("--denied", action="store_true",
                        help="only what was denied or aborted (combines with the above)")
    parser.add_argument(
        "--history", action="store_true",
        help="print the model-context history a resume would send, as JSON",
    )
    parser.set_defaults(handler=_run)


def _error(message: str, todo: str | None = None) -> int:
    from llmx.cli.errors import fail

    return fail("inspect", message, todo)


def _skipped(what: str) -> None:
    from llmx.cli.errors import warn

    warn("inspect", what)


def _search_roots() -> list[Path]:
    from llmx.events.home import archived_sessions_dir, llmx_home, sessions_dir

    home = llmx_home()
    return [sessions_dir(home), archived_sessions_dir(home)]


def _run(args: argparse.Namespace) -> int:
    import json

    from llmx.cli.session_file import rollout_file
    from llmx.projections.lineage import LineageError

    try:
        path = rollout_file(args.session)
    except LookupError as error:
        return _error(str(error.args[0]) if error.args else str(error))
    from llmx.events.reader import not_json_lines

    try:
        if not_json_lines(path):
            return _error(f"{path} is not a rollout: not one of its lines is JSON",
                          "pass a rollout-*.jsonl file or a session id")
        if args.history:
            return _print_history(path)
        return _print_report(path, args)
    except LineageError as error:
        return _error(f"{error}", "restore the parent's rollout beside the file or under "
                                  "$LLMX_HOME/sessions")
    except OSError as error:
        from llmx.cli.errors import os_error, report_error

        return report_error("inspect", os_error(error, path, doing="cannot read"))
    except (ValueError, json.JSONDecodeError) as error:
        return _error(f"{path}: {error}", "check the file with `llmx rollout check`")


def _print_history(path: Path) -> int:
    import json

    from llmx.projections.resume import fold_resume, prompt_input

    state = fold_resume(path, search_roots=_search_roots())
    for skipped in state.skipped:
        _skipped(f"skipped {skipped.path.name} at byte {skipped.offset}: {skipped.reason}")
    document = {
        "thread_id": state.thread_id,
        "lineage": [str(span.path) for span in state.spans],
        "settings": _settings_json(state.settings),
        "previous_model": state.previous_model,
        "token_usage": state.token_usage,
        "input": prompt_input(state.history),
    }
    print(json.dumps(document, indent=2, ensure_ascii=False))
    return 0


def _settings_json(settings: Any) -> dict[str, Any]:
    import dataclasses

    result: dict[str, Any] = dataclasses.asdict(settings)
    return result


def _print_report(path: Path, args: argparse.Namespace) -> int:
    import json

    from llmx.projections.audit.fold import audit_rollout
    from llmx.projections.audit.model import AuditFilter, filter_report

    report = audit_rollout(path, _search_roots())
    report = filter_report(
        report, AuditFilter(commands=args.commands, approvals=args.approvals, denied=args.denied)
    )
    for skipped in report.skipped_lines:
        _skipped(f"skipped {skipped.source} line {skipped.line}: {skipped.reason}")
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
        return 0
    from rich.console import Console

    from llmx.projections.audit.render import render_report, render_text

    if not sys.stdout.isatty():
        from llmx.cli.terminal import columns_from_env

        # A pipe or a file gets plain text, $COLUMNS wide or else 120 columns (rich
        # would assume 80).
        sys.stdout.write(render_text(report, width=columns_from_env(PIPED_WIDTH)))
        return 0
    Console(soft_wrap=False).print(render_report(report))
    return 0
