"""The audit report as rich tables (``llmx inspect``) and as plain text for golden files."""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from llmx.projections.audit.model import (
    AuditReport,
    CommandAudit,
    CommandStatus,
    Provenance,
    TurnAudit,
)

# Inferred entries are marked so nobody mistakes them for records.
_INFERRED_MARK = "*"


def _mark(provenance: Provenance) -> str:
    return _INFERRED_MARK if provenance is Provenance.INFERRED else ""


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}s"


def _yes_no(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "no")


def _sandboxed(command: CommandAudit) -> str:
    """Whether it ran in the sandbox; nothing for a command that never ran."""
    if command.sandboxed is None and command.status is CommandStatus.DECLINED:
        return ""
    return _yes_no(command.sandboxed)


def _header(report: AuditReport) -> RenderableType:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("rollout", report.source)
    table.add_row("thread", report.thread_id or "(unknown)")
    for key, value in report.session.items():
        table.add_row(key.replace("_", " "), str(value))
    if len(report.lineage) > 1:
        table.add_row("continues", " <- ".join(reversed(report.lineage[:-1])))
    if report.lineage_error:
        table.add_row("lineage", Text(report.lineage_error, style="yellow"))
    shown = str(len(report.turns))
    if report.turns_recorded is not None:
        shown = f"{shown} of {report.turns_recorded} shown"
    table.add_row("turns", shown)
    return table


def _turn_title(turn: TurnAudit) -> Text:
    title = Text(f"Turn {turn.index}", style="bold")
    title.append(f"  {turn.status}")
    if turn.program:
        title.append(f"  by {turn.program}", style="dim")
    if turn.inherited:
        title.append(f"  (inherited from {turn.source})", style="dim")
    settings = turn.settings
    parts = [
        f"model={settings.model}", f"approval={settings.approval_policy}",
        f"sandbox={settings.sandbox}",
    ]
    if settings.effort:
        parts.append(f"effort={settings.effort}")
    if settings.permission_profile:
        parts.append(f"profile=[{settings.permission_profile}]")
    if settings.cwd:
        parts.append(f"cwd={settings.cwd}")
    title.append("\n" + "  ".join(parts), style="dim")
    if turn.tools is not None:
        title.append(f"\ntools: {', '.join(turn.tools) or '(none)'}", style="dim")
    if turn.prompt:
        prompt = turn.prompt if len(turn.prompt) <= 200 else turn.prompt[:200] + "…"
        title.append(f"\nprompt: {prompt}")
    if turn.started_at or turn.ended_at:
        title.append(f"\ntime: {turn.started_at or '?'} .. {turn.ended_at or '?'}", style="dim")
    return title


def _commands(turn: TurnAudit) -> Table:
    table = Table(title="commands", title_justify="left", expand=False)
    table.add_column("line")
    table.add_column("command", overflow="fold", min_width=24, ratio=1)
    # Short fixed-vocabulary columns never wrap: a header broken as "esca/lated" is
    # unreadable; the command column folds instead.
    for column in ("status", "exit", "time", "sandboxed", "escalated", "denied"):
        table.add_column(column, no_wrap=True)
    for command in turn.commands:
        table.add_row(
            str(command.line), command.command, command.status.value + _mark(command.provenance),
            "" if command.exit_code is None else str(command.exit_code),
            _seconds(command.duration_seconds), _sandboxed(command),
            _yes_no(command.escalated),
            f"by {command.denied_by}" if command.denied else "",
        )
    return table


def _approvals(turn: TurnAudit) -> Table:
    table = Table(title="approvals", title_justify="left")
    for column in ("line", "kind", "subject", "decision", "decided by", "reason"):
        table.add_column(column, overflow="fold")
    for approval in turn.approvals:
        table.add_row(
            str(approval.line), approval.kind, approval.subject,
            approval.decision.value + _mark(approval.provenance), approval.decider.value,
            approval.reason or "",
        )
    return table


def _escalations(turn: TurnAudit) -> Table:
    table = Table(title="escalations", title_justify="left")
    for column in ("line", "command", "justification", "outcome", "mode", "approved by"):
        table.add_column(column, overflow="fold")
    for escalation in turn.escalations:
        table.add_row(
            str(escalation.line), escalation.command, escalation.justification or "",
            escalation.outcome.value + _mark(escalation.provenance), escalation.mode or "",
            escalation.approved_by or "",
        )
    return table


def _other(turn: TurnAudit) -> list[RenderableType]:
    parts: list[RenderableType] = []
    if turn.file_changes:
        table = Table(title="file changes", title_justify="left")
        for column in ("line", "path", "kind", "status"):
            table.add_column(column, overflow="fold")
        for change in turn.file_changes:
            path = change.path + (f" -> {change.move_path}" if change.move_path else "")
            table.add_row(str(change.line), path, change.kind, change.status)
        parts.append(table)
    if turn.mcp_calls:
        table = Table(title="MCP calls", title_justify="left")
        for column in ("line", "tool", "arguments", "status", "time", "error"):
            table.add_column(column, overflow="fold")
        for call in turn.mcp_calls:
            table.add_row(
                str(call.line), f"{call.server}.{call.tool}",
                json.dumps(call.arguments, separators=(",", ":")), call.status,
                _seconds(call.duration_seconds), call.error or "",
            )
        parts.append(table)
    parts.extend(
        Text(f"error (line {error.line}, {error.kind}): {error.message}", style="red")
        for error in turn.errors
    )
    if turn.token_usage:
        total = turn.token_usage.get("total_token_usage") or {}
        last = turn.token_usage.get("last_token_usage") or {}
        parts.append(Text(
            f"tokens: total {total.get('total_tokens', '?')} "
            f"(input {total.get('input_tokens', '?')}, output {total.get('output_tokens', '?')}); "
            f"last request {last.get('total_tokens', '?')}",
            style="dim",
        ))
    return parts


def render_report(report: AuditReport) -> Group:
    """The report as one rich renderable."""
    parts: list[RenderableType] = [_header(report)]
    for turn in report.turns:
        parts.append(Text(""))
        parts.append(_turn_title(turn))
        if turn.commands:
            parts.append(_commands(turn))
        if turn.approvals:
            parts.append(_approvals(turn))
        if turn.escalations:
            parts.append(_escalations(turn))
        parts.extend(_other(turn))
    if report.skipped_lines:
        parts.append(Text(""))
        parts.extend(
            Text(f"skipped {skipped.source} line {skipped.line}: {skipped.reason}", style="yellow")
            for skipped in report.skipped_lines
        )
    if any(_has_inferred(turn) for turn in report.turns):
        parts.append(Text(""))
        parts.append(Text(
            f"{_INFERRED_MARK} inferred from outcomes: the rollout holds no record of it",
            style="dim",
        ))
    return Group(*parts)


def _has_inferred(turn: TurnAudit) -> bool:
    entries: list[Any] = [*turn.commands, *turn.approvals, *turn.escalations]
    return any(entry.provenance is Provenance.INFERRED for entry in entries)


def render_text(report: AuditReport, width: int = 120) -> str:
    """Plain text (no colour), for golden files and pipes."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False,
                      legacy_windows=False, soft_wrap=False)
    console.print(render_report(report))
    return buffer.getvalue()
