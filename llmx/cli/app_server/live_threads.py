"""Threads this connection runs: ``thread/start``, ``thread/resume``, ``thread/fork``,
``turn/start``, ``turn/interrupt``, and the approvals their turns ask the client for.

Each thread comes from the runtime's door (``llmx.runtime.ThreadManager``); the server
only submits ops to it and reads its event stream. Everything it sends about a thread is
the app-server fold of the lines it read (``llmx.projections.app_server``), so a fold of
the rollout afterwards gives the same messages. An approval request on the stream
becomes a server request; the client's answer is submitted as the decision op, recorded
with the client as the one who decided, before the tool call acts on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from llmx.cli.app_server.connection import ANSWERED, log
from llmx.cli.app_server.context import PROTOCOL_VERSION, ServerContext, thread_id_param
from llmx.cli.app_server.params import (
    ImageInputParam,
    LocalImageInputParam,
    MentionInputParam,
    SkillInputParam,
    TextInputParam,
    ThreadForkParams,
    ThreadResumeParams,
    ThreadSettingsParams,
    ThreadStartParams,
    TurnInterruptParams,
    TurnStartParams,
    UserInputParam,
    decode,
)
from llmx.cli.app_server.rpc import INTERNAL_ERROR, RpcError, invalid_request
from llmx.cli.otel_threads import ThreadExports
from llmx.events.ops import (
    EXECPOLICY_AMENDMENT,
    Decision,
    ExecApproval,
    Interrupt,
    PatchApproval,
    ResolveElicitation,
    UserInputAnswer,
    UserTurn,
)
from llmx.events.primitives import ImageInput, LocalImageInput, SkillInput, TextInput, UserInput
from llmx.events.records import Approver
from llmx.projections.app_server import AppServerFold, Notification, RequestResolved, ServerRequest
from llmx.projections.app_server.threads import ThreadFacts, preview_of, wire_thread
from llmx.runtime import AgentThread, ThreadError, ThreadManager, ThreadOptions, ThreadRef
from llmx.runtime.mcp.forms import check_content, has_fields

if TYPE_CHECKING:
    from llmx.cli.app_server.connection import Connection
    from llmx.events.lines import RolloutLine
    from llmx.projections.app_server import WireMessage

# The service name of the server's metrics (as Codex's is codex-app-server); each thread's
# spans and log records carry its own originator, the client's name.
SERVICE_NAME = "llmx-app-server"

# How many times a client is asked a form again after an answer that does not fit it.
ANSWER_TRIES = 3
# The client's answer to an approval request, as the core's decision.
_DECISIONS = {"accept": "approved", "acceptForSession": "approved_for_session",
              "decline": "denied", "cancel": "abort"}
_POLICY_TYPES = {"read-only": "readOnly", "workspace-write": "workspaceWrite",
                 "danger-full-access": "dangerFullAccess"}
_POLICY_MODES = {wire: mode for mode, wire in _POLICY_TYPES.items()}


def core_decision(result: Any) -> Decision:
    """The decision a client's answer means; anything unreadable (``{}`` included, what
    the SDK answers to requests it does not know) refuses, as Codex does."""
    decision = result.get("decision") if isinstance(result, dict) else None
    if isinstance(decision, str):
        return _DECISIONS.get(decision, "denied")
    if isinstance(decision, dict) and "acceptWithExecpolicyAmendment" in decision:
        # Recorded in Codex's core form; the command runs. llmx keeps no exec-policy
        # rules, so the amendment is on record but asks nothing of later commands.
        amendment = decision["acceptWithExecpolicyAmendment"]
        prefix = amendment.get("execpolicy_amendment") if isinstance(amendment, dict) else None
        if isinstance(prefix, list) and all(isinstance(part, str) for part in prefix):
            return {EXECPOLICY_AMENDMENT: {"proposed_execpolicy_amendment": list(prefix)}}
    return "denied"


def with_turn_overrides(op: UserTurn, params: TurnStartParams) -> UserTurn:
    """The ``user_turn`` op carrying turn/start's own settings, as Codex's app-server
    builds it: they apply to this turn and the ones after it (the runtime records them in
    the turn's ``turn_context``). A sandbox is changed by mode, resolved from the thread's
    configuration (for the turn's cwd: its workspace is the folder a ``workspaceWrite``
    turn may write); a value the runtime cannot take is a warning and changes nothing."""
    if params.cwd is not None:
        cwd = Path(params.cwd).expanduser().resolve()
        if not cwd.is_dir():
            raise invalid_request(f"turn/start: cwd {params.cwd} is not a directory")
        op.cwd = str(cwd)
    if isinstance(params.approval_policy, dict):
        raise invalid_request("askForApproval.granular is not supported by llmx")
    if params.approval_policy is not None:
        op.approval_policy = params.approval_policy
    if params.sandbox_policy is not None:
        mode = _POLICY_MODES.get(params.sandbox_policy.type)
        if mode is None:
            raise invalid_request(
                f"sandboxPolicy {params.sandbox_policy.type} is not supported by llmx")
        op.sandbox_policy = {"type": mode}
    if params.model is not None:
        op.model = params.model
    if params.effort is not None:
        op.effort = params.effort
    if params.summary is not None:
        op.summary = params.summary
    if params.collaboration_mode is not None:
        # Default or Plan, for this turn and the next ones (the runtime takes the mode's
        # model and effort before the turn's, as Codex does).
        op.collaboration_mode = msgspec.to_builtins(params.collaboration_mode)
    return op


def wire_sandbox(policy: dict[str, Any]) -> dict[str, Any]:
    """The core's sandbox policy JSON as the v2 ``SandboxPolicy``."""
    kind = _POLICY_TYPES.get(str(policy.get("type")), "readOnly")
    if kind == "dangerFullAccess":
        return {"type": kind}
    if kind == "readOnly":
        return {"type": kind, "networkAccess": bool(policy.get("network_access", False))}
    return {"type": kind, "writableRoots": [str(p) for p in policy.get("writable_roots", [])],
            "networkAccess": bool(policy.get("network_access", False)),
            "excludeTmpdirEnvVar": bool(policy.get("exclude_tmpdir_env_var", False)),
            "excludeSlashTmp": bool(policy.get("exclude_slash_tmp", False))}


def user_inputs(params: list[UserInputParam]) -> list[UserInput]:
    items: list[UserInput] = []
    for part in params:
        if isinstance(part, TextInputParam):
            items.append(TextInput(text=part.text))
        elif isinstance(part, ImageInputParam):
            items.append(ImageInput(image_url=part.url))
        elif isinstance(part, LocalImageInputParam):
            items.append(LocalImageInput(path=part.path))
        elif isinstance(part, SkillInputParam):
            items.append(SkillInput(name=part.name, path=part.path))
        elif isinstance(part, MentionInputParam):
            raise invalid_request("mention inputs are not supported by llmx")
    return items


class LiveThread:
    """One thread this connection runs, and what the client has been told about it."""

    def __init__(self, conn: Connection, agent: AgentThread, fold: AppServerFold,
                 options: ThreadOptions) -> None:
        self.conn = conn
        self.agent = agent
        self.fold = fold
        # What the client asked the thread to run with (a revert reopens it so).
        self.options = options
        # call id -> the JSON-RPC id of the request asking the client about it.
        self._requests: dict[str, int] = {}
        # How many answers to each form were refused (see ``_refuse_answer``).
        self._refused: dict[str, int] = {}
        # turn/start requests waiting to be answered with the id of the turn they start.
        self._turn_waiters: list[tuple[Any, asyncio.Future[str]]] = []
        # turn/interrupt requests, answered as the interrupted turn ends (Codex's order).
        self._interrupt_waiters: list[Any] = []
        self._pump: asyncio.Task[None] | None = None
        # Futures waiting for a line of the stream (a rollback's outcome...), each with
        # the test a line must pass; resolved after the fold has taken that line.
        self._watchers: list[tuple[Callable[[RolloutLine], bool],
                                   asyncio.Future[RolloutLine]]] = []

    @property
    def thread_id(self) -> str:
        return self.agent.thread_id

    @property
    def active_turn_id(self) -> str | None:
        return self.fold.turn.id if self.fold.turn is not None else None

    def status(self) -> dict[str, Any]:
        if self.fold.turn is None:
            return {"type": "idle"}
        flags = ["waitingOnUserInput" if self.fold.turn.id in self._requests
                 else "waitingOnApproval"] if self._requests else []
        return {"type": "active", "activeFlags": flags}

    def start(self, from_position: int | None = None) -> None:
        self._pump = asyncio.ensure_future(self._run(from_position))

    async def _run(self, from_position: int | None) -> None:
        events = self.agent.subscribe(from_position=from_position)
        try:
            async for line in events:
                messages = self.fold.feed(line)
                for message in messages:
                    # Codex answers turn/start before anything of the turn it started.
                    if isinstance(message, Notification) and message.method == "turn/started":
                        self._answer_turn_start(message.params["turn"])
                ending = self._interrupt_waiters and any(
                    isinstance(message, Notification) and message.method == "turn/completed"
                    for message in messages)
                for message in messages:
                    if ending and isinstance(message, Notification) and message.method in (
                            "thread/status/changed", "turn/completed"):
                        # Codex answers turn/interrupt once the turn stopped, just before
                        # it tells the thread idle and the turn completed.
                        self._answer_interrupts()
                        ending = False
                    self._send(message)
                if self._watchers:
                    self._resolve_watchers(line)
        finally:
            for _, waiting in self._watchers:
                if not waiting.done():
                    waiting.set_exception(RpcError(INTERNAL_ERROR, "the thread closed"))
            self._watchers.clear()
            # The thread closed: a turn/start still waiting gets an answer, never silence.
            for _, future in self._turn_waiters:
                if not future.done():
                    future.set_exception(RpcError(INTERNAL_ERROR,
                                                  "the thread closed before the turn started"))
            self._turn_waiters.clear()
            self._answer_interrupts()

    def watch(self, match: Callable[[RolloutLine], bool]) -> asyncio.Future[RolloutLine]:
        """The next line of the thread's stream that ``match`` accepts (after the fold
        took it)."""
        future: asyncio.Future[RolloutLine] = asyncio.get_running_loop().create_future()
        self._watchers.append((match, future))
        return future

    def _resolve_watchers(self, line: RolloutLine) -> None:
        waiting = []
        for match, future in self._watchers:
            if future.done():
                continue
            if match(line):
                future.set_result(line)
            else:
                waiting.append((match, future))
        self._watchers = waiting

    def _send(self, message: WireMessage) -> None:
        if isinstance(message, Notification):
            if message.method == "turn/completed":
                self._clear_requests()
            self.conn.notify(message.method, message.params)
        elif isinstance(message, ServerRequest):
            self._requests[message.call_id] = self.conn.request(
                message.method, message.params, functools.partial(self._answered, message))
        elif isinstance(message, RequestResolved):
            request_id = self._requests.pop(message.call_id, None)
            if request_id is not None:
                self.conn.notify("serverRequest/resolved",
                                 {"threadId": self.thread_id, "requestId": request_id})

    def _clear_requests(self) -> None:
        """The turn ended: requests still pending are void (Codex resolves them too)."""
        for request_id in self._requests.values():
            self.conn.forget_request(request_id)
            self.conn.notify("serverRequest/resolved",
                             {"threadId": self.thread_id, "requestId": request_id})
        self._requests.clear()

    async def _answered(self, asked: ServerRequest, result: Any) -> None:
        if asked.method == "mcpServer/elicitation/request":
            action = result.get("action") if isinstance(result, dict) else None
            answer = ResolveElicitation(
                server_name=str(asked.params.get("serverName", "")), request_id=asked.call_id,
                # Anything but an accept or a cancel declines, as for commands.
                decision=action if action in ("accept", "cancel") else "decline",
            )
            schema = asked.params.get("requestedSchema")
            if action == "accept" and has_fields(schema):
                content = result.get("content") if isinstance(result, dict) else None
                problem = check_content(schema, content)
                if problem is None:
                    answer.content = content
                elif self._refuse_answer(asked, problem):
                    answer.decision = "decline"
                else:
                    return
            try:
                await self.agent.submit(answer, decided_by=Approver.CLIENT)
            except ThreadError as exc:
                log(f"the answer to {asked.call_id} was not taken: {exc}")
            return
        if asked.method == "item/tool/requestUserInput":
            # Answers by question id; anything else (the SDK's ``{}``) is no answer.
            answers = result.get("answers") if isinstance(result, dict) else None
            reply = UserInputAnswer(id=asked.call_id, response={
                "answers": answers if isinstance(answers, dict) else {}})
            try:
                await self.agent.submit(reply, decided_by=Approver.CLIENT)
            except ThreadError as exc:
                log(f"the answer to the questions of turn {asked.call_id} was not taken: {exc}")
            return
        decision = core_decision(result)
        if asked.method == "item/fileChange/requestApproval":
            # A patch has no exec-policy amendment: Codex's patch answers have no such form.
            if not isinstance(decision, str):
                decision = "denied"
            op: ExecApproval | PatchApproval = PatchApproval(id=asked.call_id, decision=decision)
        else:
            op = ExecApproval(id=asked.call_id, decision=decision,
                              turn_id=str(asked.params.get("turnId", "")))
        try:
            await self.agent.submit(op, decided_by=Approver.CLIENT)
        except ThreadError as exc:
            log(f"the decision for {asked.call_id} was not taken: {exc}")

    def _refuse_answer(self, asked: ServerRequest, problem: str) -> bool:
        """A form's content that does not fit its schema: the client is told in one
        line (a ``warning``) and asked again; True when it was asked too often already,
        and the form is to be declined instead."""
        tries = self._refused.get(asked.call_id, 0) + 1
        self._refused[asked.call_id] = tries
        message = (f"the answer to the elicitation {asked.call_id} of MCP server "
                   f"`{asked.params.get('serverName', '')}` was refused: {problem}")
        log(message)
        self._requests.pop(asked.call_id, None)
        if tries >= ANSWER_TRIES:
            self.conn.notify("warning", {"threadId": self.thread_id,
                                         "message": f"{message}; the form is declined"})
            return True
        self.conn.notify("warning", {"threadId": self.thread_id,
                                     "message": f"{message}; answer again"})
        self._send(asked)
        return False

    # -- turns ---------------------------------------------------------------------

    def expect_turn(self, request_id: Any) -> asyncio.Future[str]:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._turn_waiters.append((request_id, future))
        return future

    def expect_interrupt(self, request_id: Any) -> None:
        self._interrupt_waiters.append(request_id)

    def forget_interrupt(self, request_id: Any) -> bool:
        """Drop a waiting turn/interrupt; False when it was answered already."""
        if request_id in self._interrupt_waiters:
            self._interrupt_waiters.remove(request_id)
            return True
        return False

    def _answer_interrupts(self) -> None:
        waiting, self._interrupt_waiters = self._interrupt_waiters, []
        for request_id in waiting:
            self.conn.respond(request_id, {})

    def _answer_turn_start(self, turn: dict[str, Any]) -> None:
        """Answer the oldest waiting ``turn/start`` before its turn's notifications go
        out, as Codex orders them."""
        if not self._turn_waiters:
            return
        request_id, future = self._turn_waiters.pop(0)
        self.conn.respond(request_id, {"turn": {**turn, "startedAt": None}})
        if not future.done():
            future.set_result(turn["id"])

    async def drained(self) -> None:
        """Wait until everything the closed thread wrote has been sent to the client."""
        if self._pump is not None:
            await self._pump

    async def close(self) -> None:
        if self.fold.turn is not None:
            # The client is gone: nobody will answer its approvals. The turn ends the way
            # an interrupt ends it, and what it wrote stays written.
            with contextlib.suppress(ThreadError):
                await self.agent.submit(Interrupt())
        await self.agent.close()
        if self._pump is not None:
            await self._pump


class LiveThreads:
    def __init__(self, context: ServerContext) -> None:
        self.context = context
        self._manager: ThreadManager | None = None
        self.threads: dict[str, LiveThread] = {}
        # [otel]: every thread this server runs, exported as exec exports its one.
        self.exports = ThreadExports(context.home, SERVICE_NAME, on_error=log)

    def handlers(self) -> dict[str, Any]:
        return {
            "thread/start": self.thread_start,
            "thread/resume": self.thread_resume,
            "thread/fork": self.thread_fork,
            "turn/start": self.turn_start,
            "turn/interrupt": self.turn_interrupt,
        }

    def manager(self, conn: Connection) -> ThreadManager:
        if self._manager is None:
            # Codex records app-server threads as started from an IDE, named after the
            # client that started them.
            self._manager = ThreadManager(self.context.home, originator=conn.client_name,
                                          source="vscode", on_warning=log)
            conn.on_close.append(self.close)
        return self._manager

    async def close(self) -> None:
        for thread in list(self.threads.values()):
            await thread.close()
        if self._manager is not None:
            await self._manager.close()
        problem = await self.exports.close()
        if problem is not None:
            log(f"warning: {problem}")

    def options(self, params: ThreadSettingsParams, *, ephemeral: bool = False) -> ThreadOptions:
        cwd = Path(params.cwd) if params.cwd else Path.cwd()
        if isinstance(params.approval_policy, dict):
            raise invalid_request("askForApproval.granular is not supported by llmx")
        overrides = list(self.context.overrides)
        for key, value in (params.config or {}).items():
            overrides.append(f"{key}={_toml(value)}")
        if params.model_provider:
            overrides.append(f"model_provider={_toml(params.model_provider)}")
        if params.base_instructions is not None:
            overrides.append(f"instructions={_toml(params.base_instructions)}")
        return ThreadOptions(cwd=cwd.resolve(), config_overrides=tuple(overrides),
                             model=params.model, sandbox_mode=params.sandbox,
                             approval_policy=params.approval_policy, ephemeral=ephemeral)

    def adopt(self, conn: Connection, agent: AgentThread, fold: AppServerFold,
              options: ThreadOptions) -> LiveThread:
        """Serve ``agent`` on this connection from now on (in place of a thread of the
        same id it replaces), its recorded lines already in ``fold``."""
        live = LiveThread(conn, agent, fold, options)
        self.exports.watch(agent)
        self.threads[agent.thread_id] = live
        self.context.loaded[agent.thread_id] = live
        live.start(None)
        return live

    def response(self, live: LiveThread, turns: list[dict[str, Any]],
                 preview: str = "") -> dict[str, Any]:
        agent = live.agent
        settings = agent.settings
        now = int(time.time())
        facts = ThreadFacts(
            id=agent.thread_id, created_at=now, updated_at=now, cwd=str(settings.cwd),
            model_provider=settings.model_provider, cli_version=PROTOCOL_VERSION,
            source="vscode", preview=preview,
            path=str(agent.rollout_path) if agent.rollout_path else None,
            model=settings.model, reasoning_effort=settings.reasoning_effort,
            originator=settings.originator, ephemeral=agent.rollout_path is None,
        )
        thread = wire_thread(facts, live.status(), turns)
        return {
            "thread": thread, "model": settings.model, "modelProvider": settings.model_provider,
            "serviceTier": None, "disabledPluginIds": [], "cwd": str(settings.cwd),
            "runtimeWorkspaceRoots": [str(settings.cwd)], "instructionSources": [],
            "approvalPolicy": settings.approval_policy.value,
            # llmx has no automatic reviewer: every approval is asked of the client.
            "approvalsReviewer": "user",
            "sandbox": wire_sandbox(settings.sandbox.policy_json),
            "activePermissionProfile": None, "reasoningEffort": settings.reasoning_effort,
            "multiAgentMode": "explicitRequestOnly",
        }

    async def thread_start(self, conn: Connection, raw: Any) -> Any:
        params = decode(raw, ThreadStartParams)
        manager = self.manager(conn)
        options = self.options(params, ephemeral=bool(params.ephemeral))
        try:
            agent = await manager.open(options)
        except ThreadError as exc:
            raise RpcError(INTERNAL_ERROR, f"error creating thread: {exc}") from None
        # A new thread's lines are all live: its subscription starts at once.
        live = self.adopt(conn, agent, AppServerFold(agent.thread_id), options)
        result = self.response(live, [])
        # Codex's order: the answer, then thread/started.
        conn.respond(conn.current_request_id(), result)
        conn.notify("thread/started", {"thread": result["thread"]})
        return ANSWERED

    async def thread_resume(self, conn: Connection, raw: Any) -> Any:
        params = decode(raw, ThreadResumeParams)
        thread_id = thread_id_param(params.thread_id)
        live = self.threads.get(thread_id)
        if live is None:
            manager = self.manager(conn)
            options = self.options(params)
            try:
                agent = await manager.resume(ThreadRef.by_id(thread_id), options)
            except ThreadError as exc:
                if exc.busy:
                    # Found, but another process writes it: said as such, not as missing.
                    raise invalid_request(f"thread {thread_id} cannot be resumed: {exc}") from None
                raise invalid_request(f"thread not found: {thread_id} ({exc})") from None
            # The recorded turns, folded as thread/read folds them; then the thread goes on.
            live = self.adopt(conn, agent, await recorded_fold(agent), options)
            # Loaded now, as Codex says before its answer.
            conn.notify("thread/status/changed", {"threadId": thread_id,
                                                  "status": live.status()})
        turns = [] if params.exclude_turns else list(live.fold.turns)
        result = self.response(live, turns, preview_of(live.fold))
        # The mode the thread goes on in (its last turn's, for a thread resumed from its
        # file), as Codex's answer carries it (thread/resume only).
        settings = live.agent.settings
        result["collaborationMode"] = settings.collaboration.recorded(
            settings.model, settings.reasoning_effort)
        conn.respond(conn.current_request_id(), result)
        restored_usage(conn, live.fold)
        return ANSWERED

    async def thread_fork(self, conn: Connection, raw: Any) -> Any:
        params = decode(raw, ThreadForkParams)
        thread_id = thread_id_param(params.thread_id)
        if params.last_turn_id is not None and params.before_turn_id is not None:
            raise invalid_request("beforeTurnId cannot be combined with lastTurnId")
        manager = self.manager(conn)
        options = self.options(params, ephemeral=bool(params.ephemeral))
        try:
            agent = await manager.fork(ThreadRef.by_id(thread_id), options,
                                       through_turn_id=params.last_turn_id,
                                       before_turn_id=params.before_turn_id)
        except ThreadError as exc:
            raise invalid_request(f"cannot fork thread {thread_id}: {exc}") from None
        fold = await recorded_fold(agent)
        live = self.adopt(conn, agent, fold, options)
        turns = [] if params.exclude_turns else list(fold.turns)
        result = self.response(live, turns, preview_of(fold))
        result["thread"]["forkedFromId"] = thread_id
        conn.respond(conn.current_request_id(), result)
        restored_usage(conn, fold)
        conn.notify("thread/started", {"thread": {**result["thread"], "turns": []}})
        return ANSWERED

    def loaded(self, raw_id: str) -> LiveThread:
        thread_id = thread_id_param(raw_id)
        live = self.threads.get(thread_id)
        if live is None:
            raise invalid_request(f"thread not found: {thread_id}")
        return live

    async def turn_start(self, conn: Connection, raw: Any) -> Any:
        params = decode(raw, TurnStartParams)
        live = self.loaded(params.thread_id)
        items = user_inputs(params.input)
        schema = params.output_schema if isinstance(params.output_schema, dict) else None
        op = with_turn_overrides(live.agent.user_turn(items, output_schema=schema), params)
        waiter = live.expect_turn(conn.current_request_id())
        try:
            await live.agent.submit(op)
        except ThreadError as exc:
            raise RpcError(INTERNAL_ERROR, f"failed to submit turn input: {exc}") from None
        await waiter
        return ANSWERED

    async def turn_interrupt(self, conn: Connection, raw: Any) -> Any:
        params = decode(raw, TurnInterruptParams)
        live = self.loaded(params.thread_id)
        active = live.active_turn_id
        if active is None:
            raise invalid_request("no active turn to interrupt")
        if active != params.turn_id:
            raise invalid_request(f"expected active turn id {params.turn_id} but found {active}")
        # Answered ({}) when the turn has stopped, before its turn/completed.
        request_id = conn.current_request_id()
        live.expect_interrupt(request_id)
        try:
            await live.agent.submit(Interrupt())
        except ThreadError as exc:
            if live.forget_interrupt(request_id):
                raise RpcError(INTERNAL_ERROR, f"failed to interrupt: {exc}") from None
        return ANSWERED


def restored_usage(conn: Connection, fold: AppServerFold) -> None:
    """The thread's token usage as last recorded, told to a client that resumed or
    forked it (after the answer, as Codex does), so it knows the thread's total before
    its next turn; nothing for a thread without usage."""
    if fold.token_usage is not None:
        conn.notify("thread/tokenUsage/updated", fold.token_usage)


async def recorded_fold(agent: AgentThread) -> AppServerFold:
    """The app-server fold of ``agent``'s recorded lines (a resumed, forked or reverted
    thread's history), read up to where the thread goes on."""
    fold = AppServerFold(agent.thread_id)
    position = agent.position
    history = agent.subscribe(from_position=0)
    async for line in history:
        fold.feed(line)
        if line.ordinal is not None and line.ordinal + 1 >= position:
            break
    await history.aclose()
    return fold


def _toml(value: Any) -> str:
    """A JSON value as the TOML text of a ``-c`` override."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    raise invalid_request(f"config value {value!r} has no TOML form")
