"""Transcript cells as styled text, in the look of Codex's TUI.

Each cell becomes one :class:`rich.text.Text` (a leading mark, the body indented under
it). Styles are names of colours and attributes only, so ``NO_COLOR`` (which Textual
turns into a monochrome filter) keeps every mark and word. Command output and diffs are
cut to a few lines in the transcript; the overlay (``Ctrl-T``) shows them whole.
"""

from __future__ import annotations

import shlex
from pathlib import PurePosixPath
from typing import NamedTuple

from rich.text import Text

from llmx.projections import transcript_cells as tc
from llmx.projections.diff_render import TurnDiffTracker

# Lines of command output shown under a command (head and tail) in the transcript.
OUTPUT_HEAD_LINES = 2
OUTPUT_TAIL_LINES = 3
# Diff lines shown under a patch in the transcript.
DIFF_LINES = 40

_DECISIONS = {
    "approved": ("✔ ", "green", "You approved llmx to run {what} this time"),
    "approved_for_session": (
        "✔ ", "green", "You approved llmx to run {what} every time this session"),
    "denied": ("✗ ", "red", "You did not approve llmx to run {what}"),
    "abort": ("✗ ", "red", "You canceled the request to run {what}"),
}


def _indent(text: Text, first: str, rest: str = "  ") -> Text:
    """``text`` with ``first`` before its first line and ``rest`` before the others."""
    lines = text.split("\n", allow_blank=True)
    out = Text()
    for number, line in enumerate(lines):
        if number:
            out.append("\n")
        out.append(first if number == 0 else rest)
        out.append_text(line)
    return out


def _marked(mark: str, mark_style: str, body: Text) -> Text:
    # The mark's style is a span of its own: a Text's base style would colour the body.
    out = Text.assemble((mark, mark_style))
    out.append_text(_indent(body, "", "  "))
    return out


# Shells whose ``-c``/``-lc`` script Codex shows in place of the whole command line.
_SCRIPT_SHELLS = frozenset({"bash", "zsh", "sh"})


def shown_command(line: str) -> str:
    """A command line as Codex's TUI shows it: the script alone when the line is a shell
    running one (``/bin/bash -lc 'echo hi'`` shows as ``echo hi``), else the line."""
    try:
        words = shlex.split(line)
    except ValueError:
        return line
    if (len(words) == 3 and words[1] in ("-lc", "-c")
            and PurePosixPath(words[0]).name in _SCRIPT_SHELLS):
        return words[2]
    return line


def _output_excerpt(output: str, *, whole: bool) -> list[str]:
    lines = output.rstrip("\n").split("\n") if output.strip() else []
    if whole or len(lines) <= OUTPUT_HEAD_LINES + OUTPUT_TAIL_LINES + 1:
        return lines
    hidden = len(lines) - OUTPUT_HEAD_LINES - OUTPUT_TAIL_LINES
    return [*lines[:OUTPUT_HEAD_LINES], f"… +{hidden} lines", *lines[-OUTPUT_TAIL_LINES:]]


def _duration(ms: int | None) -> str:
    if ms is None:
        return ""
    if ms < 1000:
        return "<1s"
    seconds = ms // 1000
    if seconds < 60:
        return f"{seconds}s"
    return f"{seconds // 60}m {seconds % 60:02d}s"


def render_cell(cell: tc.Cell, *, whole: bool = False, show_reasoning: bool = True) -> Text | None:
    """The text of ``cell``; None for a cell not shown (hidden reasoning).

    ``whole`` shows command output and diffs in full (the transcript overlay).
    """
    if isinstance(cell, tc.UserCell):
        return _marked("› ", "bold cyan", Text(cell.text, style="bold"))
    if isinstance(cell, tc.AgentCell | tc.ReasoningCell):
        grown = streamed(cell, show_reasoning=show_reasoning)
        return None if grown is None else render_lines_of(grown, 0, len(grown.text))
    if isinstance(cell, tc.CommandCell):
        return _command(cell, whole=whole)
    if isinstance(cell, tc.PatchCell):
        return _patch(cell, whole=whole)
    if isinstance(cell, tc.ToolCell):
        return _tool(cell)
    if isinstance(cell, tc.PlanCell):
        return _plan(cell)
    if isinstance(cell, tc.NoticeCell):
        return _notice(cell)
    if isinstance(cell, tc.ApprovalCell):
        return _approval(cell)
    if isinstance(cell, tc.EscalationCell):
        body = Text(f"Ran {shown_command(cell.command)} outside the sandbox "
                    f"({cell.permissions})")
        if cell.reason:
            body.append(f"\nreason: {cell.reason}", style="dim")
        return _marked("⚠ ", "yellow", body)
    if isinstance(cell, tc.TurnEndCell):
        return _turn_end(cell)
    return _marked("• ", "dim", Text(cell.text, style="dim"))


class Streamed(NamedTuple):
    """A cell whose text grows at its end while the model streams it (an answer, a
    reasoning summary): drawn a line at a time, each line as :func:`render_cell` draws
    it within the whole (see :func:`render_lines_of`)."""

    text: str
    mark_style: str
    text_style: str


def streamed(cell: tc.Cell, *, show_reasoning: bool = True) -> Streamed | None:
    """``cell`` as a :class:`Streamed`, when it is one and shown."""
    if isinstance(cell, tc.AgentCell):
        return Streamed(cell.text, "bold", "")
    if isinstance(cell, tc.ReasoningCell) and show_reasoning and cell.text.strip():
        return Streamed(cell.text, "dim", "dim italic")
    return None


def render_lines_of(cell: Streamed, start: int, end: int) -> Text:
    """The lines of ``cell.text[start:end]`` as :func:`render_cell` draws them within the
    whole cell: ``start`` is 0 or just after a newline, ``end`` the end of the text or
    a newline's position. Each line of a cell wraps by itself, so the rows of the parts
    put together are the rows of the whole."""
    body = Text(cell.text[start:end], style=cell.text_style)
    if start == 0:
        return _marked("• ", cell.mark_style, body)
    return _indent(body, "  ", "  ")


def _command(cell: tc.CommandCell, *, whole: bool) -> Text:
    running = cell.status is tc.ItemStatus.IN_PROGRESS
    if running:
        title = Text.assemble(("Running ", "bold"))
        mark, mark_style = "◦ ", "cyan"
    elif cell.status is tc.ItemStatus.DECLINED:
        title = Text.assemble(("Declined ", "bold red"))
        mark, mark_style = "✗ ", "red"
    else:
        title = Text.assemble(("Ran ", "bold"))
        mark, mark_style = "• ", "green" if cell.status is tc.ItemStatus.COMPLETED else "red"
    if cell.source == "user":
        title = Text.assemble(("You ran " if not running else "Running ", "bold"))
    title.append(shown_command(cell.command))
    lines = _output_excerpt(cell.output, whole=whole)
    body = Text()
    if lines:
        for number, line in enumerate(lines):
            body.append("\n" + ("└ " if number == 0 else "  "))
            body.append(line, style="dim")
    elif not running:
        body.append("\n└ (no output)", style="dim")
    if not running and cell.exit_code not in (None, 0):
        body.append(f"\n  exit code {cell.exit_code}", style="red")
    title.append_text(body)
    return _marked(mark, mark_style, title)


# What a finished patch did to its one file, by the change's kind (as Codex words it).
_DONE_VERBS = {"add": "Added", "delete": "Deleted"}


def _patch(cell: tc.PatchCell, *, whole: bool) -> Text:
    verb = {
        tc.ItemStatus.IN_PROGRESS: "Editing",
        tc.ItemStatus.DECLINED: "Declined edit of",
        tc.ItemStatus.FAILED: "Failed to edit",
    }.get(cell.status)
    if verb is None:
        kinds = {change.kind for change in cell.changes}
        verb = _DONE_VERBS.get(kinds.pop(), "Edited") if len(kinds) == 1 else "Edited"
    paths = ", ".join(
        _relative(change.path, cell.cwd)
        + (f" → {_relative(change.move_path, cell.cwd)}" if change.move_path else "")
        for change in cell.changes)
    tracker = TurnDiffTracker(cell.cwd)
    tracker.apply(cell.changes)
    lines = tracker.render().splitlines()
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    body = Text.assemble((f"{verb} ", "bold"))
    body.append(paths or "(nothing)")
    if lines:
        body.append(" (")
        body.append(f"+{added}", style="green")
        body.append(" ")
        body.append(f"-{removed}", style="red")
        body.append(")")
    if not whole and len(lines) > DIFF_LINES:
        lines = [*lines[:DIFF_LINES], "…"]
    if lines:
        body.append("\n")
        body.append_text(_indent(diff_text("\n".join(lines)), "  "))
    mark_style = "red" if cell.status in (tc.ItemStatus.FAILED, tc.ItemStatus.DECLINED) else "green"
    return _marked("• ", mark_style, body)


def _relative(path: str, cwd: str) -> str:
    """``path`` as seen from ``cwd`` when it lies inside it (Codex shows them so)."""
    folder = cwd.rstrip("/")
    return path[len(folder) + 1:] if folder and path.startswith(folder + "/") else path


def diff_text(diff: str) -> Text:
    """A unified diff with added lines green, removed red, hunk headers cyan."""
    out = Text()
    for number, line in enumerate(diff.rstrip("\n").split("\n")):
        if number:
            out.append("\n")
        out.append(line, style=_diff_style(line))
    return out


def _diff_style(line: str) -> str:
    if line.startswith(("---", "+++", "diff ", "index ")):
        return "bold"
    if line.startswith("+"):
        return "green"
    if line.startswith("-"):
        return "red"
    return "cyan" if line.startswith("@@") else ""


def _tool(cell: tc.ToolCell) -> Text:
    if cell.kind == "web_search":
        return _marked("• ", "cyan", Text(f"Searched the web for {cell.title}"))
    body = Text.assemble(
        ("Called " if cell.status is not tc.ItemStatus.IN_PROGRESS else "Calling ", "bold"))
    body.append(cell.title, style="cyan")
    if cell.detail:
        body.append(f"\n└ {cell.detail}", style="red")
    mark_style = "red" if cell.status is tc.ItemStatus.FAILED else "green"
    return _marked("• ", mark_style, body)


_STEP_MARKS = {
    "completed": ("✔ ", "green"),
    "in_progress": ("□ ", "cyan"),
    "pending": ("□ ", "dim"),
}


def _plan(cell: tc.PlanCell) -> Text:
    body = Text.assemble(("Updated Plan", "bold"))
    if cell.explanation:
        body.append("\n")
        body.append(cell.explanation, style="italic")
    for step in cell.steps:
        mark, style = _STEP_MARKS.get(step.status.value, ("□ ", "dim"))
        body.append("\n└ " if step is cell.steps[0] else "\n  ")
        body.append(mark, style=style)
        step_style = "dim strike" if step.status.value == "completed" else ""
        body.append(step.step, style=step_style)
    return _marked("• ", "bold", body)


def _notice(cell: tc.NoticeCell) -> Text:
    kind = cell.kind
    if kind is tc.NoticeKind.ERROR:
        mark, style = "■ ", "bold red"
    elif kind in (tc.NoticeKind.WARNING, tc.NoticeKind.DEPRECATION):
        mark, style = "⚠ ", "yellow"
    else:
        mark, style = "• ", "dim"
    body = Text(cell.message, style="red" if kind is tc.NoticeKind.ERROR else "")
    if cell.details:
        body.append("\n" + cell.details, style="dim")
    return _marked(mark, style, body)


def _approval(cell: tc.ApprovalCell) -> Text:
    what = cell.summary or f"the {cell.subject}"
    if cell.subject == "command" and cell.summary:
        what = shown_command(what)
    if cell.subject == "patch":
        what = f"edits to {what}"
    if cell.decision is None:
        body = Text.assemble(("Waiting for approval to run " if cell.subject == "command"
                              else "Waiting for approval of ", "bold"))
        body.append(what)
        if cell.reason:
            body.append(f"\nreason: {cell.reason}", style="dim")
        return _marked("? ", "yellow", body)
    mark, style, template = _DECISIONS.get(
        cell.decision, ("• ", "dim", "Answered {what}: " + cell.decision)
    )
    if cell.subject == "patch":
        template = template.replace("run ", "make ")
    return _marked(mark, style, Text(template.format(what=what)))


def _turn_end(cell: tc.TurnEndCell) -> Text:
    if cell.status is tc.ExecTurnStatus.INTERRUPTED:
        return _marked("■ ", "red", Text("Conversation interrupted - tell the model what to "
                                         "do differently", style="red"))
    if cell.status is tc.ExecTurnStatus.FAILED:
        return _marked("■ ", "red", Text(f"Turn failed: {cell.error or 'unknown error'}",
                                         style="red"))
    worked = _duration(cell.duration_ms)
    return Text(f"─ Worked for {worked} ─" if worked else "─ Done ─", style="dim")


def plain_text(cell: tc.Cell, *, whole: bool = False) -> str:
    """What ``cell`` shows, without styles (for tests and the inline scrollback)."""
    text = render_cell(cell, whole=whole)
    return "" if text is None else text.plain
