"""``exec``'s human output as a fold: rollout lines in, styled output records out.

Progress goes to stderr; the final answer is a separate record that the front end writes to
stdout when stdout is not a terminal (so ``llmx exec ... > answer.txt`` gets exactly the
answer). Nothing here writes or knows about terminals: :func:`render_ansi` and
:func:`render_plain` turn records into text, and the caller picks one (``--color``).

Usage, live or replayed alike::

    projection = HumanExecProjection()
    for line in rollout:
        emit(projection.feed_line(line))
    emit(projection.finish())
"""

from __future__ import annotations

import enum

import msgspec

from llmx.events.lines import RolloutLine
from llmx.projections.exec import items as ei
from llmx.projections.exec.stream import ExecStream
from llmx.projections.shell_escape import join_command


class Stream(enum.Enum):
    STDERR = "stderr"
    # The turn's final answer: stdout when stdout is not a terminal, else nothing (it was
    # already shown on stderr).
    FINAL = "final"


class Style(enum.Flag):
    NONE = 0
    BOLD = enum.auto()
    ITALIC = enum.auto()
    DIM = enum.auto()
    RED = enum.auto()
    GREEN = enum.auto()
    YELLOW = enum.auto()
    MAGENTA = enum.auto()
    CYAN = enum.auto()


class OutputRecord(msgspec.Struct, frozen=True):
    stream: Stream
    text: str
    style: Style = Style.NONE


_SGR: tuple[tuple[Style, str], ...] = (
    (Style.BOLD, "1"),
    (Style.DIM, "2"),
    (Style.ITALIC, "3"),
    (Style.RED, "31"),
    (Style.GREEN, "32"),
    (Style.YELLOW, "33"),
    (Style.MAGENTA, "35"),
    (Style.CYAN, "36"),
)
_TITLE = Style.ITALIC | Style.MAGENTA
# Who decided an approval, in words (the ``decided_by`` llmx records).
_DECIDED_BY = {
    "user": "by the user",
    "client": "by the app-server client",
    "preset": "by --approval-decision",
    "unattended": "nobody could be asked",
    "policy": "by the approval policy",
    "session": "approved earlier for this session",
    "rule": "by a rule",
}
_MCP_STATUS_STYLE = {ei.ItemStatus.COMPLETED: Style.GREEN, ei.ItemStatus.FAILED: Style.RED}
_STEP_MARKS = {
    ei.PlanStepStatus.COMPLETED: ("✓", Style.GREEN),
    ei.PlanStepStatus.IN_PROGRESS: ("→", Style.CYAN),
    ei.PlanStepStatus.PENDING: ("•", Style.DIM),
}


def render_plain(records: list[OutputRecord], stream: Stream) -> str:
    return "".join(r.text for r in records if r.stream is stream)


def render_ansi(records: list[OutputRecord], stream: Stream) -> str:
    parts: list[str] = []
    for record in records:
        if record.stream is not stream:
            continue
        if record.style is Style.NONE or not record.text:
            parts.append(record.text)
            continue
        codes = ";".join(code for flag, code in _SGR if record.style & flag)
        # Style each line on its own so a multi-line dimmed block survives line-based pagers.
        parts.append(
            "\n".join(
                f"\x1b[{codes}m{line}\x1b[0m" if line else line
                for line in record.text.split("\n")
            )
        )
    return "".join(parts)


_DIFF_HEADERS = ("diff --git ", "--- ", "+++ ", "index ", "new file mode", "deleted file mode",
                 "similarity index", "rename from", "rename to", "old mode", "new mode")


def diff_line_style(line: str) -> Style:
    if line.startswith(_DIFF_HEADERS):
        return Style.BOLD
    if line.startswith("@@"):
        return Style.CYAN
    if line.startswith("+"):
        return Style.GREEN
    if line.startswith("-"):
        return Style.RED
    return Style.NONE


def format_with_separators(number: int) -> str:
    return f"{number:,}"


class HumanRenderer:
    """Exec notifications to output records (Codex 0.169's ``exec`` human format)."""

    def __init__(self, *, show_reasoning: bool = True, show_raw_reasoning: bool = False) -> None:
        self._show_reasoning = show_reasoning
        self._show_raw_reasoning = show_raw_reasoning
        self._out: list[OutputRecord] = []
        self._usage: ei.UsageUpdated | None = None
        # Whether the current turn reported usage: a turn that never reached the model
        # used no tokens, and says nothing about them.
        self._turn_used_tokens = False
        self._final_message: str | None = None
        self._last_plan: str | None = None
        self._errors_shown: set[str] = set()

    # -- record helpers -------------------------------------------------------------------

    def _put(self, text: str, style: Style = Style.NONE) -> None:
        self._out.append(OutputRecord(Stream.STDERR, text, style))

    def _line(self, *parts: tuple[str, Style] | str) -> None:
        for part in parts:
            if isinstance(part, str):
                self._put(part)
            else:
                self._put(*part)
        self._put("\n")

    # -- folding --------------------------------------------------------------------------

    def feed(self, notification: ei.ExecNotification) -> list[OutputRecord]:
        self._out = []
        n = notification
        if isinstance(n, ei.ExecTurnStarted):
            self._turn_started(n)
        elif isinstance(n, ei.ExecItemStarted):
            self._item_started(n.item)
        elif isinstance(n, ei.ExecItemCompleted):
            self._item_completed(n.item)
        elif isinstance(n, ei.UsageUpdated):
            self._usage = n
            self._turn_used_tokens = True
        elif isinstance(n, ei.PlanUpdated):
            self._plan(n)
        elif isinstance(n, ei.TurnDiffUpdated):
            self._diff(n.diff)
        elif isinstance(n, ei.Notice):
            self._notice(n)
        elif isinstance(n, ei.ApprovalRequested):
            self._line(("approval requested:", Style.MAGENTA | Style.BOLD), f" {n.subject}")
            where = f" in {n.cwd}" if n.cwd else ""
            self._line((n.summary, Style.BOLD), where)
            if n.reason:
                self._line((f"reason: {n.reason}", Style.DIM))
        elif isinstance(n, ei.ApprovalDecided):
            approved = n.decision.startswith("approved") or n.decision.startswith("accept")
            color = Style.GREEN if approved else Style.RED
            subject = f" {n.subject}" if n.subject else ""
            by = _DECIDED_BY.get(n.decided_by or "", f"by {n.decided_by}")
            self._line(("approval:", Style.BOLD), f"{subject} ", (n.decision, color),
                       *([(f" ({by})", Style.DIM)] if n.decided_by else []))
        elif isinstance(n, ei.Refusal):
            self._line(("ERROR:", Style.RED | Style.BOLD), f" {n.message}")
        elif isinstance(n, ei.EscalationRecorded):
            self._line(
                ("escalation:", Style.YELLOW | Style.BOLD),
                f" {n.command} ",
                (f"({n.permissions})", Style.DIM),
            )
            if n.reason:
                self._line((f"reason: {n.reason}", Style.DIM))
        elif isinstance(n, ei.TurnEnded):
            self._turn_ended(n)
        return self._out

    def _turn_started(self, n: ei.ExecTurnStarted) -> None:
        self._final_message, self._last_plan = None, None
        self._turn_used_tokens = False
        self._errors_shown.clear()
        self._line(n.header.title)
        self._line("--------")
        for key, value in n.header.entries:
            self._line((f"{key}:", Style.BOLD), f" {value}")
        self._line("--------")

    def _item_started(self, item: ei.ExecItem) -> None:
        if isinstance(item, ei.CommandItem):
            self._line(("exec", _TITLE))
            self._line((join_command(item.command), Style.BOLD), f" in {item.cwd}")
        elif isinstance(item, ei.ExecMcpToolCallItem):
            name = (f"{item.server}/{item.tool}", Style.CYAN)
            self._line(("mcp:", Style.BOLD), " ", name, " ", ("started", Style.DIM))
        elif isinstance(item, ei.ExecWebSearchItem):
            self._line(("web search:", Style.BOLD), f" {item.query}")
        elif isinstance(item, ei.ExecFileChangeItem):
            self._line(("apply patch", Style.BOLD))

    def _item_completed(self, item: ei.ExecItem) -> None:
        if isinstance(item, ei.ExecUserMessageItem):
            self._line(("user", Style.CYAN))
            self._line(item.text)
        elif isinstance(item, ei.ExecAgentMessageItem):
            self._line(("codex", _TITLE))
            self._line(item.text)
            self._final_message = item.text
        elif isinstance(item, ei.ExecReasoningItem):
            entries = item.content if self._show_raw_reasoning and item.content else item.summary
            text = "\n".join(entries)
            if self._show_reasoning and text.strip():
                self._line((text, Style.DIM))
        elif isinstance(item, ei.CommandItem):
            self._command_completed(item)
        elif isinstance(item, ei.ExecFileChangeItem):
            self._line(("patch:", Style.BOLD), f" {item.status.value}")
            for change in item.changes:
                self._line((change.path, Style.DIM))
        elif isinstance(item, ei.ExecMcpToolCallItem):
            color = _MCP_STATUS_STYLE.get(item.status, Style.DIM)
            self._line(
                ("mcp:", Style.BOLD), " ", (f"{item.server}/{item.tool}", Style.CYAN), " ",
                ("(", Style.DIM), (item.status.value, color), (")", Style.DIM),
            )
            if item.error is not None:
                self._line((item.error, Style.RED))
        elif isinstance(item, ei.ExecWebSearchItem):
            self._line(("web search:", Style.BOLD), f" {item.query}")
        elif isinstance(item, ei.CompactionItem):
            self._line(("context compacted", Style.DIM))
        elif isinstance(item, ei.ExecPlanItem):
            self._last_plan = item.text

    def _command_completed(self, item: ei.CommandItem) -> None:
        suffix = f" in {item.duration_ms}ms" if item.duration_ms is not None else ""
        if item.status is ei.ItemStatus.COMPLETED:
            self._line((f" succeeded{suffix}:", Style.GREEN))
        elif item.status is ei.ItemStatus.FAILED:
            code = item.exit_code if item.exit_code is not None else 1
            self._line((f" exited {code}{suffix}:", Style.RED))
        elif item.status is ei.ItemStatus.DECLINED:
            colon = ":" if item.aggregated_output and item.aggregated_output.strip() else ""
            self._line((f" declined{suffix}{colon}", Style.YELLOW))
        else:
            self._line((f" in progress{suffix}:", Style.DIM))
        if item.aggregated_output and item.aggregated_output.strip():
            self._line(item.aggregated_output)

    def _diff(self, diff: str) -> None:
        """A unified diff, each line styled by what it is (added, removed, hunk, header)."""
        for line in diff.split("\n"):
            self._line((line, diff_line_style(line)))

    def _plan(self, n: ei.PlanUpdated) -> None:
        if n.explanation is not None:
            self._line((n.explanation, Style.ITALIC))
        for step in n.steps:
            mark, style = _STEP_MARKS[step.status]
            text_style = Style.DIM if step.status is ei.PlanStepStatus.PENDING else Style.NONE
            self._line("  ", (mark, style), " ", (step.step, text_style))

    def _notice(self, n: ei.Notice) -> None:
        if n.kind is ei.NoticeKind.ERROR:
            self._errors_shown.add(n.message)
            self._line(("ERROR:", Style.RED | Style.BOLD), f" {n.message}")
        elif n.kind is ei.NoticeKind.WARNING:
            self._line(("warning:", Style.YELLOW | Style.BOLD), f" {n.message}")
        elif n.kind is ei.NoticeKind.DEPRECATION:
            self._line(("deprecated:", Style.YELLOW | Style.BOLD), f" {n.message}")
            if n.details:
                self._line((n.details, Style.DIM))
        else:
            self._line((n.message, Style.DIM))

    def _turn_ended(self, n: ei.TurnEnded) -> None:
        if n.status is ei.ExecTurnStatus.UNFINISHED:
            return
        final: str | None = None
        if n.status is ei.ExecTurnStatus.COMPLETED:
            final = self._final_message or n.last_agent_message or self._last_plan
        elif n.status is ei.ExecTurnStatus.FAILED:
            # Codex prints the error notification and again the failed turn's error; the
            # second copy says nothing new, so it is shown only when it differs.
            if n.error is not None and n.error not in self._errors_shown:
                self._line(("ERROR:", Style.RED | Style.BOLD), f" {n.error}")
        else:
            self._line(("turn interrupted", Style.DIM))
        if self._usage is not None and self._turn_used_tokens:
            u = self._usage
            uncached = max(u.input_tokens - max(u.cached_input_tokens, 0), 0)
            blended = uncached + max(u.output_tokens, 0)
            self._line(("tokens used", Style.DIM))
            self._line(format_with_separators(blended))
        if final is not None:
            self._out.append(OutputRecord(Stream.FINAL, final + "\n"))


class HumanExecProjection:
    """Rollout lines to human output records: :class:`ExecStream` then :class:`HumanRenderer`."""

    def __init__(self, *, show_reasoning: bool = True, show_raw_reasoning: bool = False) -> None:
        self.stream = ExecStream()
        self.renderer = HumanRenderer(
            show_reasoning=show_reasoning, show_raw_reasoning=show_raw_reasoning
        )

    def feed_line(self, line: RolloutLine) -> list[OutputRecord]:
        """What one :class:`~llmx.events.lines.RolloutLine` (live or from a file) shows."""
        return self._render(self.stream.feed_line(line))

    def finish(self) -> list[OutputRecord]:
        return self._render(self.stream.finish())

    def _render(self, notifications: list[ei.ExecNotification]) -> list[OutputRecord]:
        if not notifications:
            return []
        records: list[OutputRecord] = []
        for notification in notifications:
            records.extend(self.renderer.feed(notification))
        return records
