"""The audit report's data: per turn, the settings in force and everything that was done.

Every approval and escalation says whether it was *recorded* (llmx writes approval
requests, decisions and escalations on lines of their own) or *inferred* from outcomes
(Codex 0.169 writes no approval records at all: only the output text, a missing item, a
``declined`` status or an aborted turn remain).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any


class Provenance(enum.StrEnum):
    # Written to the rollout as such (llmx's approval, submission and escalation lines).
    RECORDED = "recorded"
    # Deduced from outcomes; Codex 0.169 leaves nothing else.
    INFERRED = "inferred"


class Decision(enum.StrEnum):
    APPROVED = "approved"
    APPROVED_FOR_SESSION = "approved_for_session"
    DENIED = "denied"
    # The user stopped the whole turn at the prompt.
    ABORTED = "abort"
    # Asked, but no answer is in the log (crash, or still waiting).
    PENDING = "pending"


class Decider(enum.StrEnum):
    """Who or what decided: llmx records it (``submission.decided_by``, ``decision``
    lines); for Codex's rollouts it is inferred."""

    # A person answered the prompt.
    USER = "user"
    # The client of ``llmx app-server`` answered.
    CLIENT = "client"
    # An answer given before the run (``exec --approval-decision``).
    PRESET = "preset"
    # Nobody could be asked (``exec`` off a terminal): refused.
    UNATTENDED = "unattended"
    # An earlier "approve for this session" answer covered the request.
    SESSION = "session"
    # An exec-policy rule (``prefix_rule``) allowed it.
    RULE = "rule"
    # The approval policy itself decided (``never``, a known-safe command, preapproved MCP).
    POLICY = "policy"
    UNKNOWN = "unknown"

    @classmethod
    def recorded(cls, value: object) -> Decider:
        """The decider a line names; a value this version does not know is UNKNOWN."""
        try:
            return cls(str(value))
        except ValueError:
            return cls.UNKNOWN


class CommandStatus(enum.StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    DECLINED = "declined"
    ABORTED = "aborted"
    # Still running in the background when the log ends, or handed to a session.
    RUNNING = "running"
    UNKNOWN = "unknown"


@dataclass(slots=True)
class TurnSettings:
    model: str | None = None
    cwd: str | None = None
    approval_policy: str | None = None
    sandbox: str | None = None
    """The sandbox policy's type (``read-only``, ``workspace-write``...)."""
    permission_profile: str | None = None
    """A one-line summary of the permission profile, when the turn has one."""
    effort: str | None = None


@dataclass(slots=True)
class CommandAudit:
    call_id: str
    tool: str
    command: str
    argv: list[str] | None
    cwd: str | None
    status: CommandStatus
    exit_code: int | None
    duration_seconds: float | None
    sandboxed: bool | None
    escalated: bool
    denied: bool
    denied_by: str | None
    """Who refused it (a :class:`Decider` value, or ``sandbox``), when denied."""
    provenance: Provenance
    timestamp: str | None
    line: int


@dataclass(slots=True)
class ApprovalAudit:
    call_id: str
    kind: str
    """``exec``, ``patch`` or ``mcp``."""
    subject: str
    decision: Decision
    decider: Decider
    provenance: Provenance
    reason: str | None
    requested_at: str | None
    decided_at: str | None
    line: int


@dataclass(slots=True)
class EscalationAudit:
    call_id: str
    command: str
    justification: str | None
    prefix_rule: list[str] | None
    outcome: Decision
    mode: str | None
    """llmx's execution mode of the re-run (``unsandboxed``, ``bounded``...), when recorded."""
    approved_by: str | None
    provenance: Provenance
    line: int


@dataclass(slots=True)
class FileChangeAudit:
    call_id: str
    path: str
    kind: str
    status: str
    move_path: str | None
    line: int


@dataclass(slots=True)
class McpCallAudit:
    call_id: str
    server: str
    tool: str
    arguments: Any
    status: str
    error: str | None
    duration_seconds: float | None
    line: int


@dataclass(slots=True)
class ErrorAudit:
    kind: str
    message: str
    line: int


@dataclass(slots=True)
class TurnAudit:
    index: int
    turn_id: str | None
    source: str
    """The file the turn was read from (a fork's parent, for inherited turns)."""
    inherited: bool
    started_at: str | None = None
    ended_at: str | None = None
    status: str = "incomplete"
    # The program that ran the turn, as exec's header names it ("llmx v0.1.0").
    program: str | None = None
    # True when that program is llmx: its approvals and escalations are on record, so
    # nothing of the turn is inferred.
    recorded_by_llmx: bool = False
    # The names of the tools the turn offered the model, when on record (llmx's writer
    # line; left out of the JSON otherwise).
    tools: list[str] | None = None
    prompt: str | None = None
    settings: TurnSettings = field(default_factory=TurnSettings)
    commands: list[CommandAudit] = field(default_factory=list)
    approvals: list[ApprovalAudit] = field(default_factory=list)
    escalations: list[EscalationAudit] = field(default_factory=list)
    file_changes: list[FileChangeAudit] = field(default_factory=list)
    mcp_calls: list[McpCallAudit] = field(default_factory=list)
    errors: list[ErrorAudit] = field(default_factory=list)
    token_usage: dict[str, Any] | None = None


@dataclass(slots=True)
class SkippedLineAudit:
    source: str
    line: int
    reason: str


@dataclass(slots=True)
class AuditReport:
    source: str
    thread_id: str | None
    session: dict[str, Any]
    lineage: list[str]
    lineage_error: str | None
    turns: list[TurnAudit]
    skipped_lines: list[SkippedLineAudit] = field(default_factory=list)
    torn_tail: bool = False
    # How many turns the thread has, when a filter left some of them out of ``turns``
    # (None when ``turns`` holds every turn).
    turns_recorded: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = dataclasses.asdict(self)
        if data["turns_recorded"] is None:
            del data["turns_recorded"]
        for turn in data["turns"]:
            if turn["tools"] is None:
                del turn["tools"]
        return data


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What ``llmx inspect`` shows; all False means everything."""

    commands: bool = False
    approvals: bool = False
    denied: bool = False

    @property
    def everything(self) -> bool:
        return not (self.commands or self.approvals or self.denied)


def _refused(decision: Decision) -> bool:
    return decision in (Decision.DENIED, Decision.ABORTED)


def filter_report(report: AuditReport, wanted: AuditFilter) -> AuditReport:
    """The report reduced to the wanted entries; turns left empty are dropped."""
    if wanted.everything:
        return report
    turns = []
    for turn in report.turns:
        kept = dataclasses.replace(
            turn, commands=[], approvals=[], escalations=[], file_changes=[], mcp_calls=[],
            errors=[],
        )
        if wanted.commands:
            kept.commands = [c for c in turn.commands if c.denied or not wanted.denied]
        if wanted.approvals:
            kept.approvals = [
                a for a in turn.approvals if _refused(a.decision) or not wanted.denied
            ]
            kept.escalations = [
                e for e in turn.escalations if _refused(e.outcome) or not wanted.denied
            ]
        if wanted.denied and not (wanted.commands or wanted.approvals):
            kept.commands = [c for c in turn.commands if c.denied]
            kept.approvals = [a for a in turn.approvals if _refused(a.decision)]
            kept.escalations = [e for e in turn.escalations if _refused(e.outcome)]
        if kept.commands or kept.approvals or kept.escalations:
            turns.append(kept)
    left_out = len(turns) < len(report.turns)
    return dataclasses.replace(report, turns=turns,
                               turns_recorded=len(report.turns) if left_out else None)
