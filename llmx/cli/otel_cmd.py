"""``llmx otel export ROLLOUT...``: send past rollouts to the configured OpenTelemetry
exporters, as a live run would have (the same fold, so the same spans, logs and metrics),
so a team can backfill what ran before ``[otel]`` was set."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "otel", help="export rollouts to OpenTelemetry ([otel] of config.toml)"
    )
    sub = parser.add_subparsers(dest="otel_command", metavar="SUBCOMMAND", required=True)
    export = sub.add_parser("export", help="replay rollouts into the configured exporters")
    export.add_argument("rollouts", nargs="+", metavar="ROLLOUT", help="rollout .jsonl files")
    export.set_defaults(handler=_run_export)


def _lines(path: Path) -> list[bytes]:
    from llmx.events.raw_lines import read_lines_forward

    # A last line without its newline is still being written: not part of the record.
    return [line.data for line in read_lines_forward(path)
            if line.terminated and not line.is_blank]


def _run_export(args: argparse.Namespace) -> int:
    from llmx import __version__
    from llmx.cli.errors import CommandError, fail, os_error
    from llmx.cli.otel_live import OtelExport
    from llmx.cli.otel_settings import otel_configured, otel_settings
    from llmx.events.home import llmx_home
    from llmx.runtime.config.load import load_config
    from llmx.runtime.config.types import ConfigError

    home = llmx_home()
    try:
        config = load_config(home).config
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    if not otel_configured(config):
        return fail("otel export", "no [otel] exporter is configured",
                    'set [otel] exporter (and trace_exporter) in config.toml, e.g. '
                    'exporter = { otlp-http = { endpoint = "http://HOST:4318" } }')
    settings = otel_settings(config, home)
    contents = []
    for name in args.rollouts:
        path = Path(name)
        try:
            contents.append(_lines(path))
        except OSError as exc:
            raise os_error(exc, path, doing="cannot read") from None
    records = 0
    for lines in contents:
        # One export per file: each file's thread span closes with its own last line.
        export = OtelExport(settings, service_name=_service(lines), version=__version__,
                            live=False)
        for line in lines:
            export.offer(line, wait=True)
        summary = export.close(wait=30.0)
        problem = summary.problem()
        if problem is not None:
            return fail("otel export", problem.removeprefix("otel: "),
                        "check the receiver and run the export again")
        records += summary.sent
    print(f"exported {records} records from {len(contents)} rollout(s)")
    return 0


def _service(lines: list[bytes]) -> str:
    """The service name the live run used: the originator of the session."""
    import json

    for line in lines[:1]:
        try:
            payload = json.loads(line).get("payload", {})
        except ValueError:
            break
        if isinstance(payload, dict) and isinstance(payload.get("originator"), str):
            return str(payload["originator"])
    return "llmx_exec"
