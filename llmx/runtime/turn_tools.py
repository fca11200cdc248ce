"""Tool calls of one turn: exec_command, write_stdin, apply_patch, view_image and
request_user_input, with approvals.

Each handler returns the text the model sees. Everything a person sees goes out as
events (typed payloads of ``llmx.events``): ``item_started``/``item_completed`` for
commands and patches, approval requests, and ``escalation``
lines before an escalated run (fsynced by the writer before the command starts).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from llmx.events.nesting import check_nesting
from llmx.events.ops import ReviewDecision
from llmx.events.primitives import (
    AddFile,
    DeleteFile,
    Duration,
    FileChange,
    UnknownCommand,
    UpdateFile,
)
from llmx.events.records import SandboxDenialRecord
from llmx.events.turn_items import (
    CommandExecutionItem,
    CommandExecutionStatus,
    FileChangeItem,
    PatchApplyStatus,
)
from llmx.runtime.approvals import (
    ApprovalCache,
    Forbidden,
    NeedsApproval,
    PatchVerdict,
    SandboxPermissions,
    approves,
    escalation_guard,
    exec_requirement,
    patch_verdict,
    retry_unsandboxed_after_denial,
)
from llmx.runtime.approvals_rules import is_known_safe, might_be_dangerous
from llmx.runtime.command_output import CommandOutputDeltas, HeldOutput
from llmx.runtime.escalation import (
    Approver,
    EscalationTrigger,
    Execution,
    ExecutionMode,
    additional_request,
    escalation_record,
    execution_for,
    likely_sandbox_denial,
)
from llmx.runtime.tool_context import ToolContext, now_ms
from llmx.runtime.tools import output as tool_output
from llmx.runtime.tools.request_user_input import request_user_input
from llmx.runtime.tools.shell import CommandResult, Spawner, shell_argv
from llmx.runtime.tools.specs import (
    APPLY_PATCH,
    EXEC_COMMAND,
    REQUEST_USER_INPUT,
    VIEW_IMAGE,
    WRITE_STDIN,
)
from llmx.runtime.tools.unified_exec import (
    DEFAULT_YIELD_MS,
    Backgrounded,
    DeniedStart,
    StartCheck,
    run_or_keep,
    running_output,
    yield_ms,
)
from llmx.runtime.tools.view_image import view_image
from llmx.runtime.tools.write_stdin import write_stdin
from llmx.runtime.turn_host import Answer

if TYPE_CHECKING:
    from llmx.runtime.tools.patch_apply import PatchPlan


class TurnAbort(Exception):
    """An ``abort`` decision: the turn ends as if interrupted."""


class ToolCall(msgspec.Struct, frozen=True):
    call_id: str
    name: str
    # Function calls carry JSON ``arguments``; freeform (custom) calls carry ``input``.
    payload: str
    custom: bool
    # The tool namespace of the call (``mcp__SERVER`` for an MCP tool on the Responses API).
    namespace: str | None = None

    def output_item(self, output: str) -> dict[str, Any]:
        kind = "custom_tool_call_output" if self.custom else "function_call_output"
        return {"type": kind, "call_id": self.call_id, "output": output}


async def dispatch(tools: ToolContext, call: ToolCall) -> str:
    mcp = tools.settings.mcp
    if mcp is not None and (call.namespace is not None or call.name.startswith("mcp__")):
        from llmx.runtime.mcp import turn_hook

        output = await turn_hook.dispatch(tools, mcp, call.namespace, call.name,
                                          call.call_id, call.payload)
        if output is not None:
            return output
    if call.namespace is not None:
        return f"unsupported call: {call.name}"
    if call.name not in tools.offered:
        # Not offered to this model (apply_patch to a model Codex's catalog does not give
        # it, a tool of another program): answered in Codex's words.
        kind = "custom tool call" if call.custom else "call"
        return f"unsupported {kind}: {call.name}"
    if call.name == EXEC_COMMAND:
        return await _exec_command(tools, call)
    if call.name == APPLY_PATCH:
        text = call.payload
        if not call.custom:
            try:
                check_nesting(call.payload)
                text = str(json.loads(call.payload)["input"])
            except (ValueError, KeyError, TypeError) as exc:
                return f"failed to parse function arguments: {exc}"
        return await _apply_patch(tools, call, text)
    if call.name == VIEW_IMAGE:
        return await view_image(tools, call.call_id, call.payload)
    if call.name == WRITE_STDIN:
        return await write_stdin(tools, call.call_id, call.payload)
    if call.name == REQUEST_USER_INPUT:
        return await request_user_input(tools, call.call_id, call.payload)
    return f"unsupported call: {call.name}"


def _arguments(call: ToolCall) -> dict[str, Any]:
    check_nesting(call.payload)
    parsed = json.loads(call.payload or "{}")
    if not isinstance(parsed, dict):
        raise ValueError("arguments must be a JSON object")
    return parsed


async def _exec_command(tools: ToolContext, call: ToolCall) -> str:
    try:
        args = _arguments(call)
        cmd = str(args["cmd"])
        permissions = SandboxPermissions(args.get("sandbox_permissions", "use_default"))
    except (ValueError, KeyError, TypeError) as exc:
        return f"failed to parse function arguments: {exc}"
    settings = tools.settings
    sandbox = settings.sandbox
    argv = shell_argv(cmd, shell=args.get("shell"), login=bool(args.get("login", True)))
    workdir = args.get("workdir")
    cwd = (settings.cwd / workdir) if workdir else settings.cwd
    justification = args.get("justification")
    max_tokens = args.get("max_output_tokens")
    additional = additional_request(permissions, args.get("additional_permissions"), cwd=cwd)
    if isinstance(additional, str):
        return additional
    cache_key = ApprovalCache.command_key(
        argv, cwd, permissions, None if additional is None else additional.to_dict()
    )
    preapproved = tools.approvals.covers([cache_key])

    refusal = escalation_guard(settings.approval_policy, permissions, preapproved=preapproved)
    if refusal is not None:
        return await _refuse_command(tools, call, argv, cwd, refusal)
    execution = execution_for(permissions, additional, sandbox)
    if isinstance(execution, str):
        return execution
    if execution.mode is ExecutionMode.TURN_DEFAULT:
        # Nothing to approve: it runs as any sandboxed command does. The log says so.
        permissions = SandboxPermissions.USE_DEFAULT
        await _record_escalation(tools, call, argv, EscalationTrigger.MODEL_REQUEST,
                                 Approver.POLICY, execution.note, execution)
    requirement = exec_requirement(
        settings.approval_policy,
        filesystem_restricted=sandbox.filesystem_restricted,
        permissions=permissions,
        known_safe=is_known_safe(argv),
        dangerous=might_be_dangerous(argv),
    )
    if isinstance(requirement, Forbidden):
        return await _refuse_command(tools, call, argv, cwd, requirement.reason)
    escalated = execution.mode in (ExecutionMode.UNSANDBOXED, ExecutionMode.BOUNDED)
    if isinstance(requirement, NeedsApproval) and not preapproved:
        answer = await tools.ask_exec(
            call.call_id, argv, cwd, justification or requirement.reason, execution.additional
        )
        await tools.answered(call.call_id, COMMAND, answer)
        if not approves(answer.decision):
            if answer.decision is ReviewDecision.ABORT:
                raise TurnAbort
            await _declined_command(tools, call, argv, cwd)
            return tool_output.rejected_output(EXEC_COMMAND)
        if answer.decision is ReviewDecision.APPROVED_FOR_SESSION:
            tools.approvals.remember([cache_key])
        if escalated:
            await _record_escalation(tools, call, argv, EscalationTrigger.MODEL_REQUEST,
                                     answer.decided_by, justification, execution, answer)
    elif isinstance(requirement, NeedsApproval):
        # Approved earlier for the session: that answer, not a new one, lets it run.
        await tools.decided(call.call_id, COMMAND, ReviewDecision.APPROVED, Approver.SESSION)
        if escalated:
            # Still say, in the log, how it ran.
            await _record_escalation(tools, call, argv, EscalationTrigger.MODEL_REQUEST,
                                     Approver.SESSION, justification, execution)
    elif escalated:
        # Pre-approved for the session: still say, in the log, how it ran.
        await _record_escalation(tools, call, argv, EscalationTrigger.MODEL_REQUEST,
                                 Approver.SESSION, justification, execution)
    outcome = await _run(tools, call, argv, cwd, execution.spawner,
                         yield_ms(args.get("yield_time_ms")),
                         sandboxed=execution.sandboxed and not tools.denied_start_is_item)
    if isinstance(outcome, Backgrounded):
        return running_output(
            wall_seconds=outcome.wall_seconds, session_id=outcome.session_id,
            output=outcome.output,
            max_tokens=int(max_tokens) if isinstance(max_tokens, int | float) else None)
    started_denied = isinstance(outcome, DeniedStart)
    result = outcome.result if isinstance(outcome, DeniedStart) else outcome
    if (started_denied or likely_sandbox_denial(
        sandboxed=execution.sandboxed,
        exit_code=result.exit_code,
        outputs=(result.stderr, result.stdout, result.aggregated_output),
    )) and retry_unsandboxed_after_denial(settings.approval_policy) and not sandbox.denies_reads:
        answer = await tools.ask_exec(
            call.call_id, argv, cwd, "command failed; retry without sandbox?"
        )
        await tools.answered(call.call_id, COMMAND, answer)
        if approves(answer.decision):
            await _record_escalation(
                tools, call, argv, EscalationTrigger.SANDBOX_DENIAL, answer.decided_by, None,
                answer=answer,
            )
            rerun = await _run(tools, call, argv, cwd, sandbox.unconfined)
            assert not isinstance(rerun, DeniedStart)  # unsandboxed: never checked
            if isinstance(rerun, Backgrounded):
                return running_output(
                    wall_seconds=rerun.wall_seconds, session_id=rerun.session_id,
                    output=rerun.output,
                    max_tokens=int(max_tokens) if isinstance(max_tokens, int | float)
                    else None)
            result = rerun
        elif answer.decision is ReviewDecision.ABORT:
            raise TurnAbort
    return tool_output.exec_command_output(
        wall_seconds=result.wall_seconds,
        exit_code=result.exit_code,
        output=result.aggregated_output,
        max_tokens=int(max_tokens) if isinstance(max_tokens, int | float) else None,
    )


# The exit code of a command killed by an interrupt, as Codex records it.
ABORTED_EXIT_CODE = -1

# What a ``decision`` line's ``subject`` calls the two kinds of question.
COMMAND = "command"
PATCH = "patch"


async def _refuse_command(
    tools: ToolContext, call: ToolCall, argv: list[str], cwd: Path, reason: str
) -> str:
    """Refused by the approval policy without asking: on record (the decision, then the
    declined item), and ``reason`` is what the model is told."""
    await tools.decided(call.call_id, COMMAND, ReviewDecision.DENIED, Approver.POLICY,
                        reason=reason)
    await _declined_command(tools, call, argv, cwd)
    return reason


async def _declined_command(tools: ToolContext, call: ToolCall, argv: list[str], cwd: Path) -> None:
    """The item of a command that was refused and never ran (Codex's app-server completes
    such a command as ``declined`` too): no output, no exit code."""
    item = _command_item(tools, call, argv, cwd, CommandExecutionStatus.DECLINED)
    at = now_ms()
    await tools.item_completed(item, at, at)


def _command_item(
    tools: ToolContext, call: ToolCall, argv: list[str], cwd: Path,
    status: CommandExecutionStatus,
) -> CommandExecutionItem:
    return CommandExecutionItem(
        id=call.call_id,
        command=argv,
        cwd=str(cwd),
        parsed_cmd=[UnknownCommand(cmd=argv[-1])],
        source=tools.command_source,
        status=status,
    )


async def _record_escalation(
    tools: ToolContext,
    call: ToolCall,
    argv: list[str],
    trigger: EscalationTrigger,
    approver: Approver,
    justification: str | None,
    execution: Execution | None = None,
    answer: Answer | None = None,
) -> None:
    record = escalation_record(
        call_id=call.call_id,
        turn_id=tools.turn_id,
        command=argv,
        trigger=trigger,
        # A retry after a denial (no ``execution``) runs unsandboxed.
        mode=ExecutionMode.UNSANDBOXED if execution is None or execution.mode is None
        else execution.mode,
        approved_by=approver,
        justification=justification,
        decision_submission_id=None if answer is None else answer.submission_id,
        permissions=None if execution is None else execution.permissions,
    )
    # On disk before the command runs (the writer fsyncs escalations): the audit trail
    # must not depend on the command.
    await tools.record(record)


async def _run(
    tools: ToolContext, call: ToolCall, argv: list[str], cwd: Path, spawner: Spawner,
    wait_ms: int = DEFAULT_YIELD_MS, *, sandboxed: bool = False,
) -> CommandResult | Backgrounded | DeniedStart:
    """Run the command for up to ``wait_ms``; one still running then is kept by the
    session (unified exec) and its item completes when it ends.

    A sandboxed command's item begins once it has run for ``EARLY_EXIT_MS`` (or ended),
    as in Codex: one the sandbox refused by then is a ``DeniedStart``, with no item, and
    the log keeps a ``sandbox_denial`` line for it instead.

    An interrupt while it runs kills it, and its item completes then, before the turn
    records its abort: ``failed``, exit code -1, with the output it printed and the time
    it ran until then, as Codex completes an interrupted command. A command whose item
    never began (killed in its first ``EARLY_EXIT_MS``) leaves none."""
    item = _command_item(tools, call, argv, cwd, CommandExecutionStatus.IN_PROGRESS)
    started_ms = now_ms()
    deltas = CommandOutputDeltas(tools, call.call_id)
    gate = HeldOutput(deltas)
    begun = ended = False

    async def begin() -> None:
        nonlocal begun
        await tools.item_started(item, started_ms)
        begun = True
        await gate.open()

    async def end(result: CommandResult, status: CommandExecutionStatus, exit_code: int,
                  output: str) -> None:
        nonlocal ended
        ended = True
        await deltas.flush()
        seconds = int(result.wall_seconds)
        done = msgspec.structs.replace(
            item,
            status=status,
            aggregated_output=output,
            exit_code=exit_code,
            duration=Duration(secs=seconds, nanos=int((result.wall_seconds - seconds) * 1e9)),
        )
        # The writer caps a large output inline and keeps the full bytes once, redacted.
        await tools.item_completed(done, started_ms, now_ms())

    async def completed(result: CommandResult) -> None:
        await end(result,
                  CommandExecutionStatus.COMPLETED if result.exit_code == 0
                  else CommandExecutionStatus.FAILED,
                  result.exit_code, result.aggregated_output)

    async def aborted(result: CommandResult) -> None:
        if begun and not ended:
            await end(result, CommandExecutionStatus.FAILED, ABORTED_EXIT_CODE,
                      tools.aborted_output(result.aggregated_output))

    def denied(result: CommandResult) -> bool:
        return likely_sandbox_denial(
            sandboxed=True, exit_code=result.exit_code,
            outputs=(result.stderr, result.stdout, result.aggregated_output))

    check = StartCheck(denied, begin) if sandboxed else None
    if check is None:
        await begin()
    try:
        outcome: CommandResult | Backgrounded | DeniedStart = await run_or_keep(
            tools.processes, argv, cwd, tools.settings.env, spawner, wait_ms, gate,
            completed, check, on_abort=aborted)
    except OSError as exc:
        if not begun:
            await begin()
        outcome = CommandResult(127, "", str(exc), f"{exc}\n", 0.0)
    except asyncio.CancelledError:
        # Interrupted while its process was being started: the item that began ends all
        # the same, with nothing printed (a kill after the start told ``aborted``).
        await aborted(CommandResult(ABORTED_EXIT_CODE, "", "", "",
                                    max(0, now_ms() - started_ms) / 1000))
        raise
    if isinstance(outcome, DeniedStart):
        result = outcome.result
        await tools.record(SandboxDenialRecord(
            call_id=call.call_id, command=argv, cwd=str(cwd), exit_code=result.exit_code,
            duration_ms=int(result.wall_seconds * 1000), turn_id=tools.turn_id))
    elif isinstance(outcome, CommandResult):
        await completed(outcome)
    return outcome


async def _apply_patch(tools: ToolContext, call: ToolCall, text: str) -> str:
    # Imported here: most turns never patch, and the patch modules (difflib) are start-up cost.
    from llmx.runtime.tools.patch_apply import PatchApplyError, apply_plan, plan_patch
    from llmx.runtime.tools.patch_format import PatchParseError, parse_patch

    started = time.monotonic()
    settings = tools.settings
    sandbox = settings.sandbox
    try:
        plan = plan_patch(parse_patch(text), settings.cwd, read_refusal=sandbox.read_refusal)
        if not plan.changes:
            raise PatchParseError("empty patch")
    except (PatchParseError, PatchApplyError) as exc:
        # Nothing was written; the log and the frontends say why, as the model is told.
        failure = f"apply_patch verification failed: {exc}"
        at = now_ms()
        await tools.item_completed(
            FileChangeItem(id=call.call_id, changes={}, status=PatchApplyStatus.FAILED,
                           stdout="", stderr=failure),
            at, at,
        )
        return failure
    # Judged on where the bytes would land, every symbolic link followed.
    refused = [target for target in sandbox.check_targets(plan.targets) if target.refusal]
    verdict, reason = patch_verdict(
        settings.approval_policy,
        all_paths_writable=not refused,
        read_only_sandbox=sandbox.read_only,
    )
    changes = _file_changes(plan)
    item = FileChangeItem(id=call.call_id, changes=changes)
    started_ms = now_ms()
    if verdict is PatchVerdict.REJECT:
        reason = reason or "patch rejected"
        await tools.decided(call.call_id, PATCH, ReviewDecision.DENIED, Approver.POLICY,
                            reason=reason)
        declined = msgspec.structs.replace(
            item, status=PatchApplyStatus.DECLINED, stdout="", stderr=reason
        )
        await tools.item_completed(declined, started_ms, now_ms())
        return reason
    if verdict is PatchVerdict.ASK_USER:
        answer = await tools.ask_patch(call.call_id, changes, refused)
        await tools.answered(call.call_id, PATCH, answer)
        if not approves(answer.decision):
            if answer.decision is ReviewDecision.ABORT:
                raise TurnAbort
            declined = msgspec.structs.replace(
                item, status=PatchApplyStatus.DECLINED, stdout="",
                stderr="patch rejected by user",
            )
            await tools.item_completed(declined, started_ms, now_ms())
            return "patch rejected by user"
    in_progress = msgspec.structs.replace(item, status=PatchApplyStatus.IN_PROGRESS)
    await tools.item_started(in_progress, started_ms)
    try:
        apply_plan(plan)
    except OSError as exc:
        failed = msgspec.structs.replace(
            item, status=PatchApplyStatus.FAILED, stdout="", stderr=str(exc)
        )
        await tools.item_completed(failed, started_ms, now_ms())
        return tool_output.apply_patch_output(
            wall_seconds=time.monotonic() - started, exit_code=1, output=f"{exc}\n"
        )
    message = plan.success_message()
    done = msgspec.structs.replace(
        item, status=PatchApplyStatus.COMPLETED, stdout=message, stderr=""
    )
    await tools.item_completed(done, started_ms, now_ms())
    return tool_output.apply_patch_output(
        wall_seconds=time.monotonic() - started, exit_code=0, output=message
    )


def _file_changes(plan: PatchPlan) -> dict[str, FileChange]:
    from llmx.runtime.tools.patch_apply import FileAdd, FileDelete

    changes: dict[str, FileChange] = {}
    for change in plan.changes:
        if isinstance(change, FileAdd):
            changes[str(change.path)] = AddFile(content=change.content)
        elif isinstance(change, FileDelete):
            changes[str(change.path)] = DeleteFile(content=change.content)
        else:
            changes[str(change.path)] = UpdateFile(
                unified_diff=change.unified_diff,
                move_path=str(change.move_path) if change.move_path else None,
            )
    return changes

