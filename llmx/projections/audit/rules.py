"""Turning a turn's tool calls, outputs and items into audit entries.

A call is matched to its output and to the turn item Codex wrote for it (same
``call_id``; the item may arrive turns later, as after an interrupt). Approvals are
inferred only where the settings of the turn say one was needed: an escalated call
(``sandbox_permissions: require_escalated``), any command under ``untrusted``, a patch
in a read-only sandbox, a declined file change or MCP call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from msgspec import UnsetType

from llmx.events import event_msgs as em
from llmx.events import response_items as ri
from llmx.events import turn_items as ti
from llmx.events.primitives import UpdateFile
from llmx.events.records import SandboxDenialRecord, TurnContext
from llmx.projections.audit.infer import (
    EXEC_TOOLS,
    INTERACTION_TOOLS,
    aborted_by_user,
    duration_seconds,
    exit_code_in,
    looks_sandbox_denied,
    output_text,
    parse_exec_arguments,
    policy_type,
    profile_summary,
    rejected_by_user,
    still_running,
    strip_file_url,
    wall_time,
)
from llmx.projections.audit.model import (
    ApprovalAudit,
    CommandAudit,
    CommandStatus,
    Decider,
    Decision,
    ErrorAudit,
    EscalationAudit,
    FileChangeAudit,
    McpCallAudit,
    Provenance,
    TurnAudit,
    TurnSettings,
)

# What the log holds of a tool call's outcome: a turn item (paginated rollouts), a legacy
# end event, or llmx's record of a command the sandbox refused as it started.
CommandRecord = ti.CommandExecutionItem | em.ExecCommandEnd | SandboxDenialRecord
PatchRecord = ti.FileChangeItem | em.PatchApplyEnd
McpRecord = ti.McpToolCallItem | em.McpToolCallEnd | em.McpToolCallEndE0
ToolRecord = CommandRecord | PatchRecord | McpRecord
Items = dict[str, tuple[ToolRecord, int]]
Call = ri.FunctionCall | ri.CustomToolCall | ri.LocalShellCall


@dataclass(slots=True)
class _Call:
    item: Call
    line: int
    timestamp: str | None
    output: ri.FunctionOutput | None = None
    has_output: bool = False


@dataclass(slots=True)
class TurnCalls:
    """The raw material of one turn, collected during the forward fold."""

    calls: dict[str, _Call] = field(default_factory=dict)
    orphan_items: list[str] = field(default_factory=list)
    auto_approved: set[str] = field(default_factory=set)
    recorded_approvals: set[str] = field(default_factory=set)

    def add_call(self, item: Call, line: int, timestamp: str | None) -> None:
        item_id = item.id if isinstance(item.id, str) else None
        call_id = item.call_id or item_id or f"line-{line}"
        self.calls[call_id] = _Call(item, line, timestamp)

    def add_output(self, item: ri.FunctionCallOutput | ri.CustomToolCallOutput) -> None:
        call = self.calls.get(item.call_id)
        if call is not None:
            call.output = item.output
            call.has_output = True

    def add_orphan_item(self, item_id: str) -> None:
        self.orphan_items.append(item_id)


def settings_from(context: TurnContext) -> TurnSettings:
    approval = context.approval_policy
    return TurnSettings(
        model=context.model,
        cwd=context.cwd,
        approval_policy=approval if isinstance(approval, str) else None,
        sandbox=policy_type(context.sandbox_policy),
        permission_profile=profile_summary(context.permission_profile),
        effort=context.reasoning_effort(),
    )


@dataclass(slots=True)
class _Context:
    turn: TurnAudit
    items: Items
    recorded_escalations: dict[str, EscalationAudit]
    approved_before: set[str]
    # Who refused a call, as recorded (llmx's ``decision`` lines).
    refused_by: dict[str, str] = field(default_factory=dict)
    consumed: set[str] = field(default_factory=set)

    @property
    def unsandboxed_policy(self) -> bool:
        return self.turn.settings.sandbox in ("danger-full-access", "external-sandbox")


def derive_turn(
    turn: TurnAudit,
    calls: TurnCalls,
    items: Items,
    recorded_escalations: dict[str, EscalationAudit],
    approved_before: set[str],
    refused_by: dict[str, str] | None = None,
) -> None:
    """Fill ``turn``'s commands, approvals, escalations, file changes and MCP calls.

    A turn llmx ran has every approval question on record; nothing of it is inferred."""
    context = _Context(turn, items, recorded_escalations, approved_before, refused_by or {})
    for call_id, call in calls.calls.items():
        item = call.item
        name = "" if isinstance(item, ri.LocalShellCall) else item.name
        namespace = item.namespace if isinstance(item, ri.FunctionCall) else ""
        if isinstance(item, ri.LocalShellCall) or name in EXEC_TOOLS:
            _exec_call(context, call_id, call, calls)
        elif name == "apply_patch":
            _patch_call(context, call_id, call, calls)
        elif (isinstance(namespace, str) and namespace.startswith("mcp__")) or isinstance(
                items.get(call_id, (None,))[0], ti.McpToolCallItem):
            _mcp_call(context, call_id, call, calls)
        elif name in INTERACTION_TOOLS:
            continue
        elif call.has_output and output_text(call.output).startswith("unsupported call"):
            turn.errors.append(ErrorAudit("tool", output_text(call.output), call.line))
    for item_id in calls.orphan_items:
        if item_id not in context.consumed and item_id not in calls.calls:
            _orphan_item(context, item_id, calls)


@dataclass(frozen=True, slots=True)
class _Ran:
    """What a record says of a command that ran (or was refused)."""

    status: str | None
    exit_code: int | None
    duration: float | None
    output: str
    argv: list[str] | None
    cwd: str | None
    source: str


def _ran(item: ToolRecord) -> _Ran | None:
    if isinstance(item, ti.CommandExecutionItem):
        output, exit_code = item.aggregated_output, item.exit_code
        return _Ran(
            item.status.value, None if isinstance(exit_code, UnsetType) else exit_code,
            duration_seconds(item.duration), "" if isinstance(output, UnsetType) else output,
            list(item.command), strip_file_url(item.cwd), item.source or "shell",
        )
    if isinstance(item, em.ExecCommandEnd):
        # No ``status`` in older ends: the exit code says.
        status = item.status if isinstance(item.status, str) and item.status else None
        return _Ran(
            status, item.exit_code, duration_seconds(item.duration), item.aggregated_output,
            list(item.command) or None, strip_file_url(item.cwd or None), item.source or "shell",
        )
    if isinstance(item, SandboxDenialRecord):
        return _Ran("failed", item.exit_code, item.duration_ms / 1000, "", list(item.command),
                    strip_file_url(item.cwd), "shell")
    return None


def _exec_call(context: _Context, call_id: str, call: _Call, calls: TurnCalls) -> None:
    turn = context.turn
    source = call.item
    action = source.action if isinstance(source, ri.LocalShellCall) else None
    arguments = parse_exec_arguments(
        action if isinstance(action, dict)
        else source.arguments if isinstance(source, ri.FunctionCall) else None
    )
    found = context.items.get(call_id)
    context.consumed.add(call_id)
    text = output_text(call.output) if call.has_output else ""
    item = _ran(found[0]) if found else None
    status, exit_code, duration = _outcome(item, text, call.has_output)
    recorded = context.recorded_escalations.get(call_id)
    ran = status in (CommandStatus.COMPLETED, CommandStatus.FAILED, CommandStatus.RUNNING)
    sandboxed: bool | None = None
    if recorded is not None:
        sandboxed = recorded.mode != "unsandboxed"
    elif arguments.escalated and ran:
        sandboxed = False
    elif ran and (turn.settings.sandbox or turn.settings.permission_profile):
        sandboxed = not context.unsandboxed_policy
    denied_by = None
    if status is CommandStatus.DECLINED:
        denied_by = context.refused_by.get(call_id, Decider.USER.value)
    elif sandboxed and exit_code not in (None, 0):
        seen = text + (item.output if item else "")
        denied_by = "sandbox" if looks_sandbox_denied(seen) else None
    argv = item.argv if item else None
    tool = "local_shell_call" if isinstance(source, ri.LocalShellCall) else source.name
    turn.commands.append(
        CommandAudit(
            call_id=call_id, tool=tool or str(source.__struct_config__.tag),
            command=arguments.command, argv=argv if argv is not None else arguments.argv,
            cwd=item.cwd if item else arguments.workdir or turn.settings.cwd,
            status=status, exit_code=exit_code, duration_seconds=duration, sandboxed=sandboxed,
            escalated=arguments.escalated or recorded is not None,
            denied=denied_by is not None, denied_by=denied_by,
            provenance=Provenance.RECORDED if item else Provenance.INFERRED,
            timestamp=call.timestamp, line=call.line,
        )
    )
    if recorded is not None:
        turn.escalations.append(recorded)
    if call_id in calls.recorded_approvals or turn.recorded_by_llmx:
        return
    needs_approval = arguments.escalated or turn.settings.approval_policy == "untrusted"
    if not needs_approval:
        return
    decision, decider, reason = _exec_decision(context, arguments.command, status, item)
    if decision is None:
        return
    if arguments.escalated and recorded is None:
        turn.escalations.append(
            EscalationAudit(
                call_id=call_id, command=arguments.command,
                justification=arguments.justification, prefix_rule=arguments.prefix_rule,
                outcome=decision, mode=None, approved_by=decider.value,
                provenance=Provenance.INFERRED, line=call.line,
            )
        )
    turn.approvals.append(
        ApprovalAudit(
            call_id=call_id, kind="exec", subject=arguments.command, decision=decision,
            decider=decider, provenance=Provenance.INFERRED,
            reason=arguments.justification or reason, requested_at=call.timestamp,
            decided_at=None, line=call.line,
        )
    )


def _outcome(
    item: _Ran | None, text: str, has_output: bool
) -> tuple[CommandStatus, int | None, float | None]:
    if item is not None:
        status = {
            "completed": CommandStatus.COMPLETED,
            "failed": CommandStatus.FAILED,
            "declined": CommandStatus.DECLINED,
            "inProgress": CommandStatus.RUNNING,
        }.get(item.status or "")
        exit_code = item.exit_code
        if status is None:  # legacy exec_command_end: no status, an exit code
            status = CommandStatus.COMPLETED if exit_code == 0 else CommandStatus.FAILED
        return status, exit_code, item.duration
    if not has_output:
        return CommandStatus.UNKNOWN, None, None
    if rejected_by_user(text):
        return CommandStatus.DECLINED, None, None
    if aborted_by_user(text):
        return CommandStatus.ABORTED, None, wall_time(text)
    if still_running(text):
        return CommandStatus.RUNNING, None, wall_time(text)
    exit_code = exit_code_in(text)
    if exit_code is None:
        return CommandStatus.UNKNOWN, None, wall_time(text)
    status = CommandStatus.COMPLETED if exit_code == 0 else CommandStatus.FAILED
    return status, exit_code, wall_time(text)


def _exec_decision(
    context: _Context, command: str, status: CommandStatus, item: _Ran | None
) -> tuple[Decision | None, Decider, str | None]:
    if status is CommandStatus.DECLINED:
        return Decision.DENIED, Decider.USER, "the command was rejected at the approval prompt"
    if status is CommandStatus.ABORTED and item is None:
        return Decision.ABORTED, Decider.USER, "the turn was stopped at the approval prompt"
    if status is CommandStatus.UNKNOWN:
        return None, Decider.UNKNOWN, None
    if command in context.approved_before:
        return Decision.APPROVED, Decider.SESSION, "the same command was approved earlier"
    context.approved_before.add(command)
    return Decision.APPROVED, Decider.USER, "the command ran, so it was approved"


def _patch_call(context: _Context, call_id: str, call: _Call, calls: TurnCalls) -> None:
    found = context.items.get(call_id)
    if found is None:
        if call.has_output and "verification failed" in output_text(call.output):
            context.turn.errors.append(
                ErrorAudit("apply_patch", output_text(call.output).splitlines()[0], call.line)
            )
        return
    if isinstance(found[0], ti.FileChangeItem | em.PatchApplyEnd):
        _file_change(context, call_id, found[0], found[1], calls, call.timestamp)


def _file_change(
    context: _Context, call_id: str, item: PatchRecord, line: int, calls: TurnCalls,
    timestamp: str | None,
) -> None:
    context.consumed.add(call_id)
    turn = context.turn
    if isinstance(item, em.PatchApplyEnd):
        default = "completed" if item.success else "failed"
    else:
        default = "completed"
    status = item.status if isinstance(item.status, str) else default
    changes = item.changes
    error = item.stderr
    if status == "failed" and isinstance(error, str) and error.strip():
        # Nothing was written: the patch failed verification or could not be applied.
        turn.errors.append(ErrorAudit("apply_patch", error.strip().splitlines()[0], line))
    for path, change in sorted(changes.items()):
        move_path = change.move_path if isinstance(change, UpdateFile) else None
        turn.file_changes.append(FileChangeAudit(
            call_id, path, str(change.__struct_config__.tag), status, move_path, line))
    if call_id in calls.recorded_approvals or turn.recorded_by_llmx:
        return
    subject = ", ".join(sorted(str(path) for path in changes))
    if status == "declined":
        decision, decider = Decision.DENIED, Decider.USER
        reason = "the patch was declined at the approval prompt"
    elif call_id in calls.auto_approved:
        decision, decider, reason = Decision.APPROVED, Decider.POLICY, "auto-approved patch"
    elif turn.settings.sandbox == "read-only" and turn.settings.approval_policy != "never":
        decision, decider = Decision.APPROVED, Decider.USER
        reason = "writes need approval in a read-only sandbox"
    else:
        return
    turn.approvals.append(
        ApprovalAudit(call_id, "patch", subject, decision, decider, Provenance.INFERRED,
                      reason, timestamp, None, line)
    )


def _mcp_call(context: _Context, call_id: str, call: _Call, calls: TurnCalls) -> None:
    found = context.items.get(call_id)
    if found is None:
        return
    if isinstance(found[0], ti.McpToolCallItem | em.McpToolCallEnd | em.McpToolCallEndE0):
        _mcp_item(context, call_id, found[0], found[1], call.timestamp,
                  asked=call_id in calls.recorded_approvals)


def _mcp_item(
    context: _Context, call_id: str, item: McpRecord, line: int, timestamp: str | None,
    *, asked: bool = False,
) -> None:
    context.consumed.add(call_id)
    source = item.invocation if isinstance(item, em.McpToolCallEnd) else item
    message: str | None = None
    status: str | None = None
    if isinstance(item, ti.McpToolCallItem):
        message = None if isinstance(item.error, UnsetType) else item.error.message
        status = item.status.value
    result = item.result
    if isinstance(result, dict) and "Err" in result:
        message = str(result["Err"])
    status = status or ("failed" if message else "completed")
    arguments = source.arguments
    server, tool = source.server, source.tool
    context.turn.mcp_calls.append(
        McpCallAudit(call_id, server, tool,
                     None if isinstance(arguments, UnsetType) else arguments, status, message,
                     duration_seconds(item.duration), line)
    )
    if message is None or asked:
        # Nothing refused, or the approval is on record (llmx's elicitation lines).
        return
    if "user rejected" in message:
        decider = Decider.USER
    elif "approval policy is never" in message:
        decider = Decider.POLICY
    else:
        return
    context.turn.approvals.append(
        ApprovalAudit(call_id, "mcp", f"{server}.{tool}", Decision.DENIED, decider,
                      Provenance.INFERRED, message, timestamp, None, line)
    )


def _orphan_item(context: _Context, item_id: str, calls: TurnCalls) -> None:
    """An item without a call in this turn: user shell commands, legacy end events."""
    item, line = context.items[item_id]
    ran = _ran(item)
    if ran is not None:
        context.consumed.add(item_id)
        argv = ran.argv
        status, exit_code, duration = _outcome(ran, "", True)
        context.turn.commands.append(
            CommandAudit(
                call_id=item_id, tool=ran.source,
                command=" ".join(argv or ()), argv=argv,
                cwd=ran.cwd, status=status, exit_code=exit_code,
                duration_seconds=duration, sandboxed=None, escalated=False,
                denied=status is CommandStatus.DECLINED,
                denied_by=context.refused_by.get(item_id, Decider.USER.value)
                if status is CommandStatus.DECLINED else None,
                provenance=Provenance.RECORDED, timestamp=None, line=line,
            )
        )
    elif isinstance(item, ti.FileChangeItem | em.PatchApplyEnd):
        _file_change(context, item_id, item, line, calls, None)
    elif isinstance(item, ti.McpToolCallItem | em.McpToolCallEnd | em.McpToolCallEndE0):
        _mcp_item(context, item_id, item, line, None)
