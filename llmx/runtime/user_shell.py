"""A shell command the user typed (``!cmd`` in the TUI; the ``run_user_shell_command`` op).

It runs as a task of its own between ``task_started`` and ``task_complete``, as in Codex,
and its command is recorded as a ``CommandExecution`` item with source ``user_shell``
(Codex's ``ExecCommandSource::UserShell``). Then the model is told, in a user message of
Codex's form (``<user_shell_command>`` with the command, exit code, duration and output),
so the next turn knows what the user ran.

Unlike Codex, which runs these commands with no sandbox and without asking, the command
takes the path of every command of the thread: the thread's sandbox, and an approval
request when the approval policy asks for one (answered by a decision op like any other).

An interrupt kills the command. Its item completes as failed with exit code -1, and the
model is told the same, in Codex's words (``command aborted by user``) after what the
command printed, with the time it ran. Codex records such a command with no output but
those words and a duration of 0; the model would then think it never ran.
"""

from __future__ import annotations

import asyncio
import json
import time

import msgspec

from llmx.events.event_log import EventLog
from llmx.events.ids import new_thread_id
from llmx.events.turn_items import (
    USER_SHELL_SOURCE,
    CommandExecutionItem,
    CommandExecutionStatus,
    TurnItem,
)
from llmx.runtime import turn_records as records
from llmx.runtime.authorship import writer_record
from llmx.runtime.session_types import SessionSettings
from llmx.runtime.tool_context import ToolContext
from llmx.runtime.tools.specs import EXEC_COMMAND
from llmx.runtime.turn_host import TurnHost, TurnOutcome, TurnStatus
from llmx.runtime.turn_opening import response_item
from llmx.runtime.turn_tools import ToolCall, TurnAbort, dispatch

ABORTED_OUTPUT = "command aborted by user"


class _UserShellTools(ToolContext):
    """The tool context of the command, keeping the command's completed item."""

    command_source = USER_SHELL_SOURCE
    denied_start_is_item = True
    completed: CommandExecutionItem | None = None

    async def item_completed(self, item: TurnItem, started_ms: int, completed_ms: int) -> None:
        if isinstance(item, CommandExecutionItem):
            self.completed = item
        await super().item_completed(item, started_ms, completed_ms)

    def aborted_output(self, output: str) -> str:
        # What it printed, then Codex's words for the interrupt (Codex keeps only those).
        if output and not output.endswith("\n"):
            output += "\n"
        return output + ABORTED_OUTPUT


class UserShell:
    """One user shell command; :meth:`run` returns how it ended."""

    def __init__(self, settings: SessionSettings, log: EventLog, host: TurnHost,
                 command: str) -> None:
        self.settings = settings
        self.log = log
        self.host = host
        self.command = command
        self.turn_id = new_thread_id()
        self.started = time.time()
        self._tools = _UserShellTools(settings, log, host, self.turn_id)

    async def run(self) -> TurnOutcome:
        settings = self.settings
        # What the user ran is kept even when no model request follows (a new thread's
        # file appears now).
        await self.log.persist()
        await self.log.record(
            writer_record(settings),
            records.task_started(settings, self.turn_id, self.started),
            records.turn_context(settings, self.turn_id),
        )
        call = ToolCall(call_id=new_thread_id(), name=EXEC_COMMAND,
                        payload=json.dumps({"cmd": self.command}), custom=False)
        try:
            reply = await dispatch(self._tools, call)
        except (asyncio.CancelledError, TurnAbort):
            await self._aborted()
            return TurnOutcome(self.turn_id, TurnStatus.ABORTED, None, context_recorded=False)
        await self._tell_the_model(self._record_text(reply))
        await self.log.record(records.task_complete(self.turn_id, self.started, None))
        return TurnOutcome(self.turn_id, TurnStatus.COMPLETED, None, context_recorded=False)

    def _record_text(self, reply: str) -> str:
        """Codex's record of the command, from its completed item; a command that did
        not run (refused, or stopped before it started) says why."""
        item = self._tools.completed
        if item is None or item.status is CommandExecutionStatus.DECLINED:
            return record_text(self.command, -1, 0.0, reply)
        duration = item.duration
        seconds = 0.0 if isinstance(duration, msgspec.UnsetType) else (
            duration.secs + duration.nanos / 1e9)
        exit_code = item.exit_code if isinstance(item.exit_code, int) else -1
        output = item.aggregated_output if isinstance(item.aggregated_output, str) else ""
        return record_text(self.command, exit_code, seconds, output)

    async def _tell_the_model(self, text: str) -> None:
        message = {"type": "message", "role": "user",
                   "content": [{"type": "input_text", "text": text}]}
        self.host.history.append(message)
        await self.log.record(response_item(message))

    async def _aborted(self) -> None:
        # A command the interrupt killed has completed as failed by now (exit code -1,
        # the time it ran, its output and ABORTED_OUTPUT): the model is told the same.
        await self._tell_the_model(self._record_text(ABORTED_OUTPUT))
        await self.log.record(records.turn_aborted(self.turn_id, self.started))


def record_text(command: str, exit_code: int, seconds: float, output: str) -> str:
    """``<user_shell_command>`` as Codex writes it for the model."""
    return "\n".join((
        "<user_shell_command>", "<command>", command, "</command>", "<result>",
        f"Exit code: {exit_code}", f"Duration: {seconds:.4f} seconds", "Output:", output,
        "</result>", "</user_shell_command>",
    ))
