"""The tools of ``llmx mcp-server``, over the runtime's door.

``llmx`` opens a thread (prompt, cwd, sandbox, approval policy, model, profile) and runs
its first turn; ``llmx-reply`` runs the next turn of a thread by id (one this server
opened, or any recorded one, resumed). Each call answers when its turn ends, with the
last agent message and the thread's id. While the turn runs, what it does goes to the
client as progress notifications; an approval request becomes an elicitation to the
client, whose answer is submitted as the decision (decided by the client). A client that
cannot answer refuses.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import (
    CallToolResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    InputRequiredResult,
    TextContent,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel

from llmx.cli.mcp_server.progress import describe
from llmx.events.event_msgs import ApplyPatchApprovalRequest, ElicitationRequest
from llmx.events.ops import ExecApproval, PatchApproval, ResolveElicitation
from llmx.events.primitives import TextInput
from llmx.events.records import Approver
from llmx.projections.shell_escape import join_command
from llmx.runtime import (
    AgentThread,
    ThreadError,
    ThreadEvents,
    ThreadManager,
    ThreadOptions,
    ThreadRef,
)
from llmx.runtime.mcp.forms import has_fields

if TYPE_CHECKING:
    from llmx.runtime.session_types import ApprovalRequest

_TURN_ENDS = frozenset({"task_complete", "turn_aborted"})
# The key of the one question an approval asks (2026-07-28's input_requests).
_APPROVAL_KEY = "approval"


class Approval(BaseModel):
    """An approval asks nothing but yes or no: the elicitation's action is the answer."""


class _RunningTurn:
    """A turn a tool call runs, read across the rounds of a call that asks the client."""

    def __init__(self, thread: AgentThread, events: ThreadEvents) -> None:
        self.thread = thread
        self.events = events
        self.step = 0
        self.failure: str | None = None
        # The approval request the client is asked about now (modern protocol).
        self.asked: ApprovalRequest | None = None


class Threads:
    """The threads of this server, opened or resumed by its tool calls."""

    def __init__(self, overrides: tuple[str, ...]) -> None:
        self._overrides = overrides
        # Where a thread runs when the call names no cwd: where the server was started.
        self._cwd = Path(os.getcwd())
        self._manager: ThreadManager | None = None
        # Turns waiting for the client's answer, by the request_state given with the
        # question (2026-07-28: the call returns, and the client calls again with it).
        self._waiting: dict[str, _RunningTurn] = {}

    @property
    def manager(self) -> ThreadManager:
        if self._manager is None:
            self._manager = ThreadManager(originator="llmx_mcp_server", source="mcp")
        return self._manager

    async def start(self, ctx: Context, prompt: str, cwd: str | None, sandbox: str | None,
                    approval_policy: str | None, model: str | None,
                    profile: str | None) -> CallToolResult | InputRequiredResult:
        if ctx.request_state is not None:
            return await self._answered(ctx)
        options = ThreadOptions(
            cwd=Path(cwd) if cwd else self._cwd,
            config_overrides=self._overrides, profile=profile, model=model,
            sandbox_mode=sandbox, approval_policy=approval_policy,
        )
        try:
            thread = await self.manager.open(options)
        except ThreadError as error:
            return _error(str(error))
        return await self._turn(ctx, thread, prompt)

    async def reply(self, ctx: Context, thread_id: str,
                    prompt: str) -> CallToolResult | InputRequiredResult:
        if ctx.request_state is not None:
            return await self._answered(ctx)
        thread = self.manager.thread(thread_id)
        if thread is None:
            try:
                thread = await self.manager.resume(
                    ThreadRef.by_id(thread_id),
                    ThreadOptions(cwd=self._cwd, config_overrides=self._overrides),
                )
            except ThreadError as error:
                return _error(str(error))
        if thread.turn_running:
            return _error(f"thread {thread_id} is running a turn; wait for it to end")
        return await self._turn(ctx, thread, prompt)

    async def _turn(self, ctx: Context, thread: AgentThread,
                    prompt: str) -> CallToolResult | InputRequiredResult:
        running = _RunningTurn(thread, thread.subscribe())
        await thread.submit(thread.user_turn([TextInput(text=prompt)]))
        return await self._advance(ctx, running)

    async def _answered(self, ctx: Context) -> CallToolResult | InputRequiredResult:
        """The client called again with its answer to the question of ``request_state``."""
        running = self._waiting.pop(str(ctx.request_state), None)
        if running is None or running.asked is None:
            return _error("no question of this server is waiting for that answer; "
                          "start the call again without request_state")
        answer = (ctx.input_responses or {}).get(_APPROVAL_KEY)
        action = answer.action if isinstance(answer, ElicitResult) else "decline"
        asked, running.asked = running.asked, None
        await _decide(running.thread, asked, action)
        return await self._advance(ctx, running)

    async def _advance(self, ctx: Context,
                       running: _RunningTurn) -> CallToolResult | InputRequiredResult:
        """Read the turn until it ends, or until the client must be asked something."""
        thread = running.thread
        while True:
            try:
                line = await running.events.__anext__()
            except StopAsyncIteration:
                break
            request = thread.approval_request(line)
            if isinstance(request, ElicitationRequest) and has_fields(request.schema()):
                # A form of one of the thread's own MCP servers: this server asks its
                # client only yes or no, so nobody can fill the form in; it is declined.
                await thread.submit(ResolveElicitation(
                    server_name=request.server_name, request_id=request.id,
                    decision="decline"), decided_by=Approver.UNATTENDED)
                continue
            if request is not None:
                if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
                    # No server-initiated requests on this protocol: the call returns the
                    # question, the turn waits, and the client's next call answers it.
                    token = uuid.uuid4().hex
                    running.asked = request
                    self._waiting[token] = running
                    return InputRequiredResult(
                        input_requests={_APPROVAL_KEY: _elicitation(request)},
                        request_state=token,
                    )
                await _decide(thread, request, await _ask(ctx, request))
            message = describe(line)
            if message is not None:
                running.step += 1
                await _progress(ctx, running.step, message)
            if line.payload_type == "task_complete":
                error = _field(line, "error")
                if isinstance(error, dict):
                    running.failure = str(error.get("message", "the turn failed"))
            if line.payload_type in _TURN_ENDS:
                break
        await running.events.aclose()
        text = thread.outcome.last_agent_message or ""
        structured = {"threadId": thread.thread_id, "content": text}
        if running.failure is not None:
            return CallToolResult(content=[TextContent(type="text", text=running.failure)],
                                  structured_content=structured, is_error=True)
        return CallToolResult(content=[TextContent(type="text", text=text)],
                              structured_content=structured)


def _elicitation(request: ApprovalRequest) -> ElicitRequest:
    return ElicitRequest(params=ElicitRequestFormParams(
        message=_question(request), requested_schema={"type": "object", "properties": {}},
    ))


async def _ask(ctx: Context, request: ApprovalRequest) -> str:
    """The client's answer to ``request``, asked in the middle of the call (protocols up to
    2025-11-25); a client that cannot answer refuses."""
    try:
        answer = await ctx.elicit(_question(request), Approval)
    except Exception:  # no elicitation: refuse, as every frontend without a user does
        return "decline"
    return str(answer.action)


async def _decide(thread: AgentThread, request: ApprovalRequest, action: str) -> None:
    """Submit the client's ``action`` (accept, decline, cancel) as the decision."""
    if isinstance(request, ElicitationRequest):
        await thread.submit(ResolveElicitation(
            server_name=request.server_name, request_id=request.id,
            decision=action if action in ("accept", "cancel") else "decline",
        ), decided_by=Approver.CLIENT)
        return
    decision = {"accept": "approved", "cancel": "abort"}.get(action, "denied")
    if isinstance(request, ApplyPatchApprovalRequest):
        await thread.submit(PatchApproval(id=request.call_id, decision=decision),
                            decided_by=Approver.CLIENT)
    else:
        await thread.submit(ExecApproval(id=request.answer_id(), decision=decision,
                                         turn_id=request.turn_id),
                            decided_by=Approver.CLIENT)


def _question(request: ApprovalRequest) -> str:
    if isinstance(request, ElicitationRequest):
        return request.text()
    if isinstance(request, ApplyPatchApprovalRequest):
        return "Allow llmx to apply changes to " + ", ".join(sorted(request.changes)) + "?"
    text = f"Allow llmx to run `{join_command(request.command)}` in {request.cwd}?"
    reason = request.reason
    return f"{text} ({reason})" if isinstance(reason, str) else text


async def _progress(ctx: Context, step: int, message: str) -> None:
    try:
        await ctx.report_progress(step, None, message)
    except Exception:  # a client gone or without progress: the turn goes on
        return


def _field(line: Any, name: str) -> Any:
    import json

    try:
        payload = json.loads(line.payload_raw)
    except ValueError:
        return None
    return payload.get(name) if isinstance(payload, dict) else None


def _error(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def build_server(overrides: tuple[str, ...]) -> MCPServer:
    threads = Threads(overrides)
    server = MCPServer(
        "llmx", instructions="Run llmx, a coding agent: start a thread with `llmx`, "
        "continue it with `llmx-reply`.",
    )

    @server.tool(name="llmx", description="Start an llmx thread: run the prompt as its "
                 "first turn and answer with its last message and the thread's id.")
    async def start(
        prompt: str, ctx: Context, cwd: str | None = None, sandbox: str | None = None,
        approval_policy: str | None = None, model: str | None = None,
        profile: str | None = None,
    ) -> CallToolResult | InputRequiredResult:
        return await threads.start(ctx, prompt, cwd, sandbox, approval_policy, model, profile)

    @server.tool(name="llmx-reply", description="Continue an llmx thread by its id: run "
                 "the prompt as its next turn.")
    # ``threadId``: the argument's name on the wire, as Codex's ``codex-reply`` took it.
    async def reply(threadId: str, prompt: str,
                    ctx: Context) -> CallToolResult | InputRequiredResult:
        return await threads.reply(ctx, threadId, prompt)

    return server


def serve_stdio(overrides: tuple[str, ...]) -> None:
    server = build_server(overrides)
    server.run("stdio")
