"""Write ``examples/sample.rollout.jsonl`` through llmx's rollout writer.

Usage: ``python examples/record_sample.py [OUTPUT]``

One turn of a coding session, as the runtime records it: the user's submission
(write-ahead), the turn context, an approval request for a command, the user's decision
(a ``submission`` line), the escalation it led to, the command, its output and the
answer. ``llmx rollout check examples/sample.rollout.jsonl`` reads it back.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llmx.events import (  # noqa: E402 - after the path setup above
    AgentMessageItem,
    AgentText,
    Approver,
    CommandExecutionItem,
    CommandExecutionStatus,
    Duration,
    EscalationRecord,
    EventLog,
    ExecApproval,
    ExecApprovalRequest,
    ExecutionMode,
    FileSink,
    FunctionCall,
    FunctionCallOutput,
    InputText,
    ItemCompleted,
    Message,
    OutputText,
    Redactor,
    ReviewDecision,
    SessionMeta,
    SubmissionRecord,
    TaskComplete,
    TaskStarted,
    TextInput,
    TokenCount,
    TokenUsage,
    TokenUsageInfo,
    TurnContext,
    UnknownCommand,
    UserInputOp,
    UserMessageItem,
    format_timestamp,
    new_thread_id,
)

CWD = "/home/dev/project"
PROMPT = "create notes.txt outside the sandbox's reach and tell me when done"
ANSWER = "Done: ../notes.txt says hello."
COMMAND = ["/bin/bash", "-lc", "echo hello > ../notes.txt && echo done"]


async def record(output: Path) -> None:
    thread_id = new_thread_id()
    turn_id = new_thread_id()
    meta = SessionMeta(
        id=thread_id,
        timestamp=format_timestamp(),
        cwd=CWD,
        originator="llmx_exec",
        cli_version="0.1.0",
        source="exec",
        model_provider="openai",
        history_mode="paginated",
    )
    log = EventLog(FileSink(output), meta=meta, redactor=Redactor.from_environment())
    items = [TextInput(text=PROMPT)]
    # The file appears with this first user input, written before the turn starts.
    await log.record(SubmissionRecord(id="1", op=UserInputOp(items=items)))
    await log.record(
        TaskStarted(turn_id=turn_id, model_context_window=258400),
        TurnContext(
            cwd=CWD,
            approval_policy="on-request",
            sandbox_policy={"type": "workspace-write", "network_access": False,
                            "exclude_tmpdir_env_var": False, "exclude_slash_tmp": False},
            model="gpt-5.5",
            summary="auto",
            turn_id=turn_id,
        ),
        Message(role="user", content=[InputText(text=PROMPT)]),
        ItemCompleted(thread_id=thread_id, turn_id=turn_id,
                      item=UserMessageItem(id=new_thread_id(), content=items)),
        FunctionCall(
            name="exec_command",
            arguments=json.dumps({"cmd": COMMAND[2], "sandbox_permissions": "require_escalated",
                                  "justification": "writes outside the workspace"}),
            call_id="call_1",
        ),
        ExecApprovalRequest(call_id="call_1", turn_id=turn_id, command=COMMAND, cwd=CWD,
                            reason="writes outside the workspace",
                            parsed_cmd=[UnknownCommand(cmd=COMMAND[2])]),
    )
    # The decision is on disk (and fsynced) before the command runs.
    decision = ExecApproval(id="call_1", decision=ReviewDecision.APPROVED, turn_id=turn_id)
    await log.record(SubmissionRecord(id="2", op=decision))
    await log.record(
        EscalationRecord(call_id="call_1", mode=ExecutionMode.UNSANDBOXED,
                         approved_by=Approver.USER, turn_id=turn_id, command=COMMAND,
                         reason="writes outside the workspace", decision_submission_id="2")
    )
    await log.record(
        ItemCompleted(
            thread_id=thread_id,
            turn_id=turn_id,
            item=CommandExecutionItem(
                id="call_1", command=COMMAND, cwd=CWD,
                parsed_cmd=[UnknownCommand(cmd=COMMAND[2])], source="agent",
                status=CommandExecutionStatus.COMPLETED, aggregated_output="done\n",
                exit_code=0, duration=Duration(secs=0, nanos=4_200_000),
            ),
        ),
        FunctionCallOutput(call_id="call_1", output="Process exited with code 0\nOutput:\ndone\n"),
        Message(role="assistant", content=[OutputText(text=ANSWER)]),
        ItemCompleted(thread_id=thread_id, turn_id=turn_id,
                      item=AgentMessageItem(id=new_thread_id(), content=[AgentText(text=ANSWER)])),
        TokenCount(info=TokenUsageInfo(
            total_token_usage=TokenUsage(input_tokens=1200, output_tokens=80, total_tokens=1280),
            last_token_usage=TokenUsage(input_tokens=1200, output_tokens=80, total_tokens=1280),
            model_context_window=258400,
        )),
        TaskComplete(turn_id=turn_id, last_agent_message=ANSWER),
    )
    await log.close()


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name(
        "sample.rollout.jsonl"
    )
    target.unlink(missing_ok=True)  # a fresh sample, not an append to the old one
    asyncio.run(record(target))
    print(target)


if __name__ == "__main__":
    main()
