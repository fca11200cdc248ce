"""``llmx replay PATH|ID``: print what ``exec`` printed live for a session, from its log.

Human output by default (progress on stderr, each turn's final answer on stdout when stdout
is not a terminal), or ``--json`` for exec's JSONL events. Corrupt lines are reported on
stderr with their line numbers and skipped; they never stop a replay.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "replay", help="print a session's exec output again, from its rollout alone"
    )
    parser.add_argument("session", metavar="PATH|ID", help="a rollout file, or a session id")
    parser.add_argument("--json", action="store_true", help="exec --json events (JSONL)")
    parser.add_argument(
        "--color", choices=("always", "never", "auto"), default="auto",
        help="colour the human output (auto: only when stderr is a terminal and NO_COLOR "
        "is not set)",
    )
    parser.add_argument(
        "--with-parent", action="store_true",
        help="for a fork or revert segment, replay the inherited part of its parent first",
    )
    parser.add_argument(
        "--tui", action="store_true",
        help="show the session in the interactive transcript (read-only) instead of printing",
    )
    parser.add_argument(
        "--no-alt-screen", dest="inline", action="store_true",
        help="with --tui: run inline, keeping the terminal's scrollback",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from llmx.cli.session_file import rollout_file
    from llmx.cli.terminal import use_color

    try:
        path = rollout_file(args.session)
    except LookupError as not_found:
        from llmx.cli.errors import fail

        return fail("replay", str(not_found.args[0]))
    if args.tui:
        from llmx.cli.tui.launch import replay_tui

        return replay_tui(path, inline=args.inline)
    return replay(
        path,
        as_json=args.json,
        color=use_color(args.color, sys.stderr),
        with_parent=args.with_parent,
        out=sys.stdout,
        err=sys.stderr,
    )


def replay(
    path: Path,
    *,
    as_json: bool,
    color: bool,
    with_parent: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    """Replay one rollout (and with ``with_parent`` its inherited prefix); 0, or 1 when the
    file cannot be read."""
    from llmx.cli.errors import error_line, os_error
    from llmx.events.lines import LineError, decode_line
    from llmx.events.nesting import nesting_problem
    from llmx.events.raw_lines import file_size, read_lines_forward
    from llmx.events.reader import not_json_lines
    from llmx.projections.exec.human import HumanExecProjection, Stream, render_ansi, render_plain
    from llmx.projections.exec.json_events import JsonExecProjection, encode_event
    from llmx.projections.lineage import LineageError, RolloutSpan, resolve_lineage

    try:
        if not_json_lines(path):
            print(error_line("replay", f"{path} is not a rollout: not one of its lines is JSON",
                             "pass a rollout-*.jsonl file, or a session id from "
                             "`llmx sessions list`"), file=err)
            return 1
        if with_parent:
            spans = resolve_lineage(path)
        else:
            spans = [RolloutSpan(path, file_size(path), inherited=False)]
    except OSError as exc:
        print(os_error(exc, path, doing="cannot read").line("replay"), file=err)
        return 1
    except LineageError as exc:
        print(error_line("replay", f"cannot read {path}: {exc}",
                         "restore the parent's rollout beside the file, or replay without "
                         "--with-parent"), file=err)
        return 1
    render = render_ansi if color else render_plain
    show_final = not (out.isatty() and err.isatty())
    output = _Output(out, err)

    def flush(records: list[Any]) -> None:
        if not records:
            return
        if as_json:
            output.out("".join(encode_event(event) for event in records))
        else:
            output.err(render(records, Stream.STDERR))
            final = render_plain(records, Stream.FINAL)
            if final and show_final:
                output.out(final)

    try:
        for span in spans:
            projection = JsonExecProjection() if as_json else HumanExecProjection()
            for number, raw in enumerate(read_lines_forward(span.path, end=span.end), 1):
                if raw.is_blank:
                    continue
                if not raw.terminated:
                    output.err(
                        f"{span.path}:{number}: torn last line skipped (incomplete write)\n"
                    )
                    continue
                try:
                    line = decode_line(raw.data)
                    records = projection.feed_line(line)
                except LineError as exc:
                    output.err(f"{span.path}:{number}: corrupt line skipped: {exc}\n")
                    continue
                except RecursionError:
                    # Decoded, but nested too deeply for what the projection does with it.
                    output.err(f"{span.path}:{number}: corrupt line skipped: "
                               f"{nesting_problem()}\n")
                    continue
                flush(records)
            flush(projection.finish())
    except OSError as exc:
        output.flush()
        print(os_error(exc, path, doing="cannot read").line("replay"), file=err)
        return 1
    output.flush()
    out.flush()
    err.flush()
    return 0


class _Output:
    """Both output streams, written in blocks.

    ``sys.stderr`` is line-buffered even when redirected, so writing each rendered line
    as it comes costs a system call per line. Text is kept in order per stream and
    written once enough has gathered, stderr before stdout, as the streams' own buffers
    would order it.
    """

    _LIMIT = 1 << 16

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self._streams = (err, out)
        self._parts: tuple[list[str], list[str]] = ([], [])
        self._size = 0

    def err(self, text: str) -> None:
        self._add(0, text)

    def out(self, text: str) -> None:
        self._add(1, text)

    def _add(self, which: int, text: str) -> None:
        self._parts[which].append(text)
        self._size += len(text)
        if self._size >= self._LIMIT:
            self.flush()

    def flush(self) -> None:
        for stream, parts in zip(self._streams, self._parts, strict=True):
            if parts:
                stream.write("".join(parts))
                parts.clear()
        self._size = 0
