"""``write_stdin``: input to a command ``exec_command`` left running, and what it printed.

The session id names a process of the session's :class:`ProcessStore`. Non-empty
``chars`` are written to its stdin (a ``terminal_interaction`` event says so), then the
call waits (250 ms after a write, 5 to 300 s for an empty poll, less if the process ends)
and answers with the output since the last answer: ``Process running with session ID N``
while it runs, ``Process exited with code X`` once it ended (the session id is then
gone).
"""

from __future__ import annotations

import json
import time

from llmx.events.event_msgs import TerminalInteraction
from llmx.runtime.tool_context import ToolContext
from llmx.runtime.tools import output as tool_output
from llmx.runtime.tools.unified_exec import running_output, write_yield_ms


async def write_stdin(tools: ToolContext, call_id: str, arguments: str) -> str:
    try:
        args = json.loads(arguments or "{}")
        session_id = int(args["session_id"])
        chars = str(args.get("chars") or "")
    except (ValueError, KeyError, TypeError) as exc:
        return f"failed to parse function arguments: {exc}"
    max_tokens = args.get("max_output_tokens")
    budget = int(max_tokens) if isinstance(max_tokens, int | float) else None
    session = tools.processes.get(session_id)
    if session is None:
        return f"write_stdin failed: Unknown process id {session_id}"
    if chars:
        await tools.record(TerminalInteraction(call_id=call_id, process_id=str(session_id),
                                               stdin=chars))
        refusal = session.write(chars)
        if refusal is not None:
            return f"write_stdin failed: {refusal}"
    ended = await session.until(write_yield_ms(args.get("yield_time_ms"), polling=not chars))
    output = session.take_output()
    wall = time.monotonic() - session.started
    if not ended:
        return running_output(wall_seconds=wall, session_id=session_id, output=output,
                              max_tokens=budget)
    tools.processes.forget(session)
    exit_code = session.exit_code if session.exit_code is not None else -1
    return tool_output.exec_command_output(wall_seconds=wall, exit_code=exit_code,
                                           output=output, max_tokens=budget)
