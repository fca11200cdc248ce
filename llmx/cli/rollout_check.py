"""``llmx rollout check PATH... [--json] [--repair]``: the health of rollout files.

Per file: the number of lines, counts by line type, line and payload types llmx does
not know, unparseable lines by number, repeated and missing ordinals, the process writing
the file if one is, and a torn final line. Exit status 1 when any file has unparseable
lines or ordinals out of step, or cannot be read or repaired. ``--repair`` cuts a torn
final line and removes the partial output blobs a killed writer left, and touches nothing
else, and only as the file's writer: it takes the writer lock first, so a file a live
writer holds is refused, never cut.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmx.events.lines import UnknownPayload
from llmx.events.nesting import MAX_JSON_NESTING
from llmx.events.ordinals import OrdinalCheck
from llmx.events.outputs import partial_blobs
from llmx.events.reader import LineProblem, RolloutFileError, RolloutReader, TornTail
from llmx.events.records import LLMX_ONLY_LINE_TYPES, LineType
from llmx.events.writer_lock import LockHolder, RolloutBusy, current_writer, repair_as_writer

# Line types whose payload is a tagged union: unknown variants are reported as such.
_UNION_LINE_TYPES = (LineType.EVENT_MSG, LineType.RESPONSE_ITEM)
_KNOWN_LINE_TYPES = frozenset(str(t) for t in LineType)


@dataclass
class FileReport:
    path: Path
    lines: int = 0
    types: Counter[str] = field(default_factory=Counter)
    unknown_types: Counter[str] = field(default_factory=Counter)
    problems: list[LineProblem] = field(default_factory=list)
    ordinals: OrdinalCheck = field(default_factory=OrdinalCheck)
    torn_tail: TornTail | None = None
    torn_tail_cut: bool = False
    # The process writing the file while it was checked: its last line may be in progress.
    writer: LockHolder | None = None
    # Blobs a killed writer was writing (counted only when no writer holds the file).
    partial_blobs: int = 0
    partial_blobs_removed: bool = False
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None or bool(self.problems) or not self.ordinals.ok

    def as_json(self) -> dict[str, Any]:
        torn = None
        if self.torn_tail is not None:
            torn = {
                "line": self.torn_tail.number,
                "offset": self.torn_tail.offset,
                "bytes": self.torn_tail.length,
                "cut": self.torn_tail_cut,
            }
        writer = None
        if self.writer is not None:
            writer = {"pid": self.writer.pid or None, "command": self.writer.command}
        return {
            "path": str(self.path),
            "ok": not self.failed,
            "error": self.error,
            "lines": self.lines,
            "types": dict(sorted(self.types.items())),
            "unknown_types": dict(sorted(self.unknown_types.items())),
            "unparseable": [{"line": p.number, "reason": p.reason} for p in self.problems],
            "ordinals": self.ordinals.as_json(),
            "torn_tail": torn,
            "writer": writer,
            "partial_blobs": {"count": self.partial_blobs,
                              "removed": self.partial_blobs_removed},
        }

    def human(self) -> str:
        types = ", ".join(f"{name} {count}" for name, count in sorted(self.types.items()))
        noun = "line" if self.lines == 1 else "lines"
        parts = [f"{self.path}: {self.lines} {noun}" + (f" ({types})" if types else "")]
        if self.unknown_types:
            unknown = ", ".join(f"{n} {c}" for n, c in sorted(self.unknown_types.items()))
            parts.append(f"unknown types: {unknown}")
        if self.problems:
            numbers = ", ".join(str(p.number) for p in self.problems)
            parts.append(f"unparseable lines: {numbers}")
        parts.extend(self.ordinals.describe())
        if self.writer is not None:
            parts.append(f"being written by {self.writer.describe()}")
        if self.torn_tail is not None:
            length = f"{self.torn_tail.length} bytes"
            if self.writer is not None:
                parts.append(f"last line {self.torn_tail.number} not complete yet ({length})")
            else:
                state = "cut" if self.torn_tail_cut else "run with --repair to cut it"
                parts.append(f"torn final line {self.torn_tail.number} ({length}; {state})")
        if self.partial_blobs:
            state = "removed" if self.partial_blobs_removed else "run with --repair to remove them"
            parts.append(f"{self.partial_blobs} partial output blobs left by a killed writer "
                         f"({state})")
        if len(parts) == 1:
            parts.append("ok")
        return "; ".join(parts)


def check_file(path: Path, *, repair: bool = False) -> FileReport:
    report = FileReport(path)
    # Lines deeper than the Codex CLI reads are reported even where llmx could decode them.
    reader = RolloutReader(path, max_nesting=MAX_JSON_NESTING)
    try:
        for line in reader:
            kind = line.type or "(no type)"
            report.ordinals.add(line.ordinal, llmx_only=kind in LLMX_ONLY_LINE_TYPES)
            report.types[kind] += 1
            if kind not in _KNOWN_LINE_TYPES:
                report.unknown_types[kind] += 1
            elif kind in _UNION_LINE_TYPES:
                item = line.item()
                if isinstance(item, UnknownPayload) and item.error is None:
                    report.unknown_types[f"{kind}/{item.type}"] += 1
    except RolloutFileError as exc:
        report.error = str(exc).removeprefix(f"{path}: ")
        return report
    report.lines = reader.line_count
    report.problems = reader.problems
    report.torn_tail = reader.torn_tail
    # A live writer's last line may be a write in progress: never called torn, never cut.
    report.writer = current_writer(path)
    if report.writer is None:
        report.partial_blobs = len(partial_blobs(path))
    if repair and (reader.torn_tail is not None or report.partial_blobs):
        try:
            cut, removed = repair_as_writer(path)
            report.torn_tail_cut = cut is not None
            report.partial_blobs_removed = removed >= report.partial_blobs > 0
        except RolloutBusy as busy:
            report.writer = busy.holder
            report.error = (
                f"not repaired: {busy.what} — --repair cuts a torn line only when no "
                "writer holds the file; run it again once that writer has finished"
            )
        except OSError as exc:
            report.error = f"cannot cut the torn final line: {exc.strerror or exc}"
    return report


def report_error_line(report: FileReport) -> None:
    from llmx.cli.errors import report as print_error

    print_error("rollout check", f"{report.path}: {report.error}")


def run_check(paths: list[str], *, as_json: bool, repair: bool) -> int:
    import msgspec

    failed = False
    for name in paths:
        report = check_file(Path(name), repair=repair)
        failed = failed or report.failed
        if as_json:
            print(msgspec.json.encode(report.as_json()).decode(), flush=True)
        elif report.error is None:
            print(report.human(), flush=True)
        for problem in report.problems:
            print(problem.describe(report.path), file=sys.stderr)
        if report.error is not None:
            report_error_line(report)
    return 1 if failed else 0
