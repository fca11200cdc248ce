"""Plain-text and JSON output of ``llmx sessions`` (no rich: listing must start fast)."""

from __future__ import annotations

import sys

from llmx.projections.sessions.listing import SessionPage, SessionRow

_PREVIEW_WIDTH = 72


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _PREVIEW_WIDTH else flat[: _PREVIEW_WIDTH - 1] + "…"


def _line(row: SessionRow) -> str:
    label = f"[{row.name}] " if row.name else ""
    return f"{row.id}  {row.updated_at}  {label}{_one_line(row.preview)}"


def print_rows(rows: list[SessionRow], *, as_json: bool) -> None:
    if as_json:
        import json  # only for --json: plain listings start faster without it

        sys.stdout.write(json.dumps({"data": [r.as_json() for r in rows]}) + "\n")
        return
    for row in rows:
        print(_line(row))


def print_page(page: SessionPage, *, as_json: bool) -> None:
    if as_json:
        import json  # only for --json: plain listings start faster without it

        body = {"data": [r.as_json() for r in page.rows], "next_cursor": page.next_cursor}
        sys.stdout.write(json.dumps(body) + "\n")
        return
    for row in page.rows:
        print(_line(row))
    if page.next_cursor:
        print(f"more: --cursor '{page.next_cursor}'", file=sys.stderr)


def print_detail(
    row: SessionRow, *, as_json: bool, origin: dict[str, str] | None = None
) -> None:
    """One session's fields; ``origin`` (the shared index's ``machine`` and ``user`` it
    was synced from) is added to them."""
    fields = row.as_json()
    if origin is not None:
        fields.update(origin)
    if as_json:
        import json  # only for --json: plain listings start faster without it

        sys.stdout.write(json.dumps(fields) + "\n")
        return
    for key, value in fields.items():
        if value is not None and value != "":
            print(f"{key + ':':<16}{value}")
