"""Turning a turn's tool calls, outputs and items into audit entries.

A call is matched to its output and to the turn item Codex wrote for it (same
``call_id``; the item may arrive turns later, as after an interrupt). Approvals are
inferred only where the settings of the turn say one was needed: an escalated call
(``sandbox_permissions: require_escalated``), any command under ``untrusted``, a patch
in a read-only sandbox, a declined file change or MCP call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
from llmx.projections.resume import context_effort

Items = dict[str, tuple[dict[str, Any], int]]


@dataclass(slots=True)
class _Call:
    item: dict[str, Any]
    line: int
    timestamp: str | None
    output: Any = None
    has_output: bool = False


@dataclass(slots=True)
class TurnCalls:
    """The raw material of one turn, collected during the forward fold."""

    calls: dict[str, _Call] = field(default_factory=dict)
    orphan_items: list[str] = field(default_factory=list)
    auto_approved: set[str] = field(default_factory=set)
    recorded_approvals: set[str] = field(default_factory=set)

    def add_call(self, item: dict[str, Any], line: int, timestamp: str | None) -> None:
        call_id = str(item.get("call_id") or item.get("id") or f"line-{line}")
        self.calls[call_id] = _Call(item, line, timestamp)

    def add_output(self, item: dict[str, Any]) -> None:
        call = self.calls.get(str(item.get("call_id", "")))
        if call is not None:
            call.output = item.get("output")
            call.has_output = True

    def add_orphan_item(self, item_id: str) -> None:
        self.orphan_items.append(item_id)


def settings_from(context: dict[str, Any]) -> TurnSettings:
    effort = context_effort(context)
    return TurnSettings(
        model=context.get("model"),
        cwd=context.get("cwd"),
        approval_policy=context.get("approval_policy"),
        sandbox=policy_type(context.get("sandbox_policy")),
        permission_profile=profile_summary(context.get("permission_profile")),
        effort=effort if isinstance(effort, str) else None,
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
        name = str(call.item.get("name", ""))
        namespace = str(call.item.get("namespace", ""))
        if call.item.get("type") == "local_shell_call" or name in EXEC_TOOLS:
            _exec_call(context, call_id, call, calls)
        elif name == "apply_patch":
            _patch_call(context, call_id, call, calls)
        elif namespace.startswith("mcp__") or _item_type(items, call_id) == "McpToolCall":
            _mcp_call(context, call_id, call, calls)
        elif name in INTERACTION_TOOLS:
            continue
        elif call.has_output and output_text(call.output).startswith("unsupported call"):
            turn.errors.append(ErrorAudit("tool", output_text(call.output), call.line))
    for item_id in calls.orphan_items:
        if item_id not in context.consumed and item_id not in calls.calls:
            _orphan_item(context, item_id, calls)


def _item_type(items: Items, call_id: str) -> str | None:
    found = items.get(call_id)
    return str(found[0].get("type")) if found else None


def _exec_call(context: _Context, call_id: str, call: _Call, calls: TurnCalls) -> None:
    turn = context.turn
    action = call.item.get("action") if call.item.get("type") == "local_shell_call" else None
    arguments = parse_exec_arguments(
        action if isinstance(action, dict) else call.item.get("arguments")
    )
    found = context.items.get(call_id)
    context.consumed.add(call_id)
    text = output_text(call.output) if call.has_output else ""
    item = found[0] if found else None
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
        seen = text + str((item or {}).get("aggregated_output", ""))
        denied_by = "sandbox" if looks_sandbox_denied(seen) else None
    argv = item.get("command") if item and isinstance(item.get("command"), list) else None
    turn.commands.append(
        CommandAudit(
            call_id=call_id, tool=str(call.item.get("name") or call.item.get("type")),
            command=arguments.command, argv=argv if argv is not None else arguments.argv,
            cwd=strip_file_url(item.get("cwd")) if item else arguments.workdir or turn.settings.cwd,
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
    item: dict[str, Any] | None, text: str, has_output: bool
) -> tuple[CommandStatus, int | None, float | None]:
    if item is not None:
        raw = str(item.get("status", ""))
        status = {
            "completed": CommandStatus.COMPLETED,
            "failed": CommandStatus.FAILED,
            "declined": CommandStatus.DECLINED,
            "inProgress": CommandStatus.RUNNING,
        }.get(raw)
        exit_code = item.get("exit_code")
        if status is None:  # legacy exec_command_end: no status, an exit code
            status = CommandStatus.COMPLETED if exit_code == 0 else CommandStatus.FAILED
        return status, exit_code if isinstance(exit_code, int) else None, duration_seconds(
            item.get("duration")
        )
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
    context: _Context, command: str, status: CommandStatus, item: dict[str, Any] | None
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
    _file_change(context, call_id, found[0], found[1], calls, call.timestamp)


def _file_change(
    context: _Context, call_id: str, item: dict[str, Any], line: int, calls: TurnCalls,
    timestamp: str | None,
) -> None:
    context.consumed.add(call_id)
    turn = context.turn
    status = str(item.get("status", "completed" if item.get("success", True) else "failed"))
    changes = item.get("changes") or {}
    error = item.get("stderr")
    if status == "failed" and isinstance(error, str) and error.strip():
        # Nothing was written: the patch failed verification or could not be applied.
        turn.errors.append(ErrorAudit("apply_patch", error.strip().splitlines()[0], line))
    for path, change in sorted(changes.items()):
        change = change if isinstance(change, dict) else {}
        kind = str(change.get("type") or next(iter(change), "update"))
        turn.file_changes.append(
            FileChangeAudit(call_id, str(path), kind, status, change.get("move_path"), line)
        )
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
    _mcp_item(context, call_id, found[0], found[1], call.timestamp,
              asked=call_id in calls.recorded_approvals)


def _mcp_item(
    context: _Context, call_id: str, item: dict[str, Any], line: int, timestamp: str | None,
    *, asked: bool = False,
) -> None:
    context.consumed.add(call_id)
    invocation = item.get("invocation")
    source = invocation if isinstance(invocation, dict) else item
    error = item.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    result = item.get("result")
    if isinstance(result, dict) and "Err" in result:
        message = str(result["Err"])
    status = str(item.get("status") or ("failed" if message else "completed"))
    server, tool = str(source.get("server", "")), str(source.get("tool", ""))
    context.turn.mcp_calls.append(
        McpCallAudit(call_id, server, tool, source.get("arguments"), status, message,
                     duration_seconds(item.get("duration")), line)
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
    kind = item.get("type")
    if kind in ("CommandExecution", "exec_command_end"):
        context.consumed.add(item_id)
        argv = item.get("command") if isinstance(item.get("command"), list) else None
        status, exit_code, duration = _outcome(item, "", True)
        context.turn.commands.append(
            CommandAudit(
                call_id=item_id, tool=str(item.get("source") or "shell"),
                command=" ".join(str(part) for part in argv or ()), argv=argv,
                cwd=strip_file_url(item.get("cwd")), status=status, exit_code=exit_code,
                duration_seconds=duration, sandboxed=None, escalated=False,
                denied=status is CommandStatus.DECLINED,
                denied_by=context.refused_by.get(item_id, Decider.USER.value)
                if status is CommandStatus.DECLINED else None,
                provenance=Provenance.RECORDED, timestamp=None, line=line,
            )
        )
    elif kind in ("FileChange", "patch_apply_end"):
        _file_change(context, item_id, item, line, calls, None)
    elif kind in ("McpToolCall", "mcp_tool_call_end"):
        _mcp_item(context, item_id, item, line, None)
