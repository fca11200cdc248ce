"""What ``llmx exec`` does once its flags are parsed: open a thread, run one turn, report.

The thread comes from the runtime's door (``llmx.runtime.ThreadManager``), which resolves
the configuration, the sandbox, the log and the model client from the flags given to it
as data. What exec prints comes only from the projections fed by the thread's event
stream, the same folds ``llmx replay`` runs over the file, so what a run printed and what
a replay of its rollout prints are the same. Approval requests arrive on that stream too;
exec answers them with decision ops.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmx.cli.errors import CommandError, os_error, report_error, route_log_warnings, warn
from llmx.cli.exec_prompt import resolve_prompt
from llmx.cli.thread_errors import thread_error

if TYPE_CHECKING:
    from llmx.cli.exec_approvals import ExecApprover
    from llmx.cli.exec_output import ExecOutput
    from llmx.cli.otel_threads import ThreadExports
    from llmx.events.primitives import UserInput
    from llmx.runtime import AgentThread, ThreadManager, ThreadOptions, ThreadRef


def run_exec(
    args: argparse.Namespace, resume: bool, session: str | None, prompt: str | None
) -> int:
    """Run exec; its exit status. ``resume`` continues ``session`` (None: the latest)."""
    from llmx.runtime import ThreadError

    route_log_warnings("exec")

    from llmx.cli.session_flags import session_cwd

    cwd = session_cwd(args)
    ref = _thread_ref(session, any_cwd=args.all) if resume else None
    try:
        return asyncio.run(_run(args, cwd, ref, prompt))
    except ThreadError as exc:
        raise thread_error(exc) from None


def _thread_ref(session: str | None, *, any_cwd: bool) -> ThreadRef:
    """The session ``exec resume`` names: the latest, a rollout file, or an id or name."""
    from llmx.runtime import ThreadRef

    if session is None:
        return ThreadRef.last(any_cwd=any_cwd)
    if session.endswith(".jsonl") and Path(session).is_file():
        return ThreadRef.by_path(session)
    return ThreadRef.by_id(session)


async def _run(
    args: argparse.Namespace, cwd: Path, ref: ThreadRef | None, prompt: str | None
) -> int:
    from llmx.cli.session_flags import image_inputs
    from llmx.runtime import ThreadManager

    manager = ThreadManager(originator=originator(), source="exec", on_warning=_warn)
    try:
        thread = await _open(manager, _options(args, cwd), ref)
        text = resolve_prompt(prompt, sys.stdin.buffer, stdin_is_tty=sys.stdin.isatty())
        schema = _output_schema(args.output_schema)
        items: list[UserInput] = [*image_inputs(args.image, cwd)]
        return await _drive(args, thread, items, text, schema)
    finally:
        await manager.close()


def _options(args: argparse.Namespace, cwd: Path) -> ThreadOptions:
    from llmx.cli.session_flags import thread_options

    return thread_options(
        args, cwd, ephemeral=args.ephemeral, thread_source=args.thread_source,
        require_trusted_cwd=not args.skip_git_repo_check,
        # exec cannot ask anyone, so unless told otherwise it never asks (as Codex exec).
        approval_policy_when_unset="never",
    )


async def _open(
    manager: ThreadManager, options: ThreadOptions, ref: ThreadRef | None
) -> AgentThread:
    from llmx.runtime import UntrustedDirectory

    try:
        if ref is None:
            return await manager.open(options)
        return await manager.resume(ref, options)
    except UntrustedDirectory as exc:
        raise CommandError(exc.what, "run it in one, or pass --skip-git-repo-check") from None


# Codex's SDKs name themselves to the runtime they drive with this variable (the
# TypeScript SDK sets ``codex_sdk_ts``); it becomes the thread's and the requests'
# originator.
ORIGINATOR_ENV = "CODEX_INTERNAL_ORIGINATOR_OVERRIDE"


def originator() -> str:
    return os.environ.get(ORIGINATOR_ENV, "").strip() or "llmx_exec"


def _warn(message: str) -> None:
    warn("exec", message)


def _output_schema(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        schema = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CommandError(f"--output-schema {path}: cannot read a JSON schema ({exc})",
                           "pass a readable JSON file") from None
    if not isinstance(schema, dict):
        raise CommandError(f"--output-schema {path}: the schema is not a JSON object",
                           "pass a JSON Schema object")
    return schema


async def _drive(
    args: argparse.Namespace, thread: AgentThread, items: list[UserInput], prompt: str,
    schema: dict[str, Any] | None,
) -> int:
    from llmx.cli.exec_approvals import ExecApprover, on_terminal
    from llmx.cli.exec_output import ExecOutput
    from llmx.events.ops import Interrupt, ReviewDecision
    from llmx.events.primitives import TextInput

    output = ExecOutput(json_mode=args.json, color=args.color,
                        show_reasoning=not thread.config.hide_agent_reasoning)
    # Everything shown comes from the thread's event stream: live equals replay.
    events = thread.subscribe()
    if thread.meta_line is not None:
        output.on_line(thread.meta_line)
    otel = _start_otel(thread)
    approver = ExecApprover([ReviewDecision(value) for value in args.approval_decision],
                            interactive=on_terminal(), show_request=args.json)
    renderer = asyncio.create_task(_render(thread, events, output, approver))
    loop = asyncio.get_running_loop()
    interrupts: set[asyncio.Task[str]] = set()

    def on_sigint() -> None:
        task = loop.create_task(thread.submit(Interrupt()))
        interrupts.add(task)
        task.add_done_callback(interrupts.discard)

    loop.add_signal_handler(signal.SIGINT, on_sigint)
    try:
        await thread.submit(thread.user_turn([*items, TextInput(text=prompt)],
                                             output_schema=schema))
        # Shuts the thread down after its turn; that ends the subscription.
        await thread.close()
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        await thread.close()
        await renderer
    output.finish()
    await _finish_otel(otel)
    outcome = thread.outcome
    written = True
    if args.output_last_message:
        written = _write_last_message(Path(args.output_last_message), outcome.last_agent_message)
    return 1 if outcome.failed or outcome.aborted or not written else 0


def _start_otel(thread: AgentThread) -> ThreadExports:
    """The thread's OpenTelemetry export (when ``[otel]`` names an exporter): a second
    subscription whose lines go to a bounded queue (see ``llmx.cli.otel_threads``)."""
    from llmx.cli.otel_threads import ThreadExports
    from llmx.events.home import llmx_home

    exports = ThreadExports(llmx_home(), originator())
    exports.watch(thread)
    return exports


async def _finish_otel(exports: ThreadExports) -> None:
    problem = await exports.close()
    if problem is not None:
        warn("exec", problem)


# Lines after which the turn no longer waits for an answer to its open question.
_TURN_ENDS = frozenset({"task_complete", "turn_aborted"})


async def _render(
    thread: AgentThread, events: Any, output: ExecOutput, approver: ExecApprover
) -> None:
    """Render every line; answer each approval request as it comes, and the model's
    questions (a thread resumed in Plan mode) with no answers: nobody is there to give
    them, as in Codex's exec."""
    from llmx.events.ops import UserInputAnswer
    from llmx.events.records import Approver

    try:
        async for line in events:
            if line.payload_type in _TURN_ENDS:
                await approver.withdraw()
            output.on_line(line)
            request = thread.approval_request(line)
            if request is not None:
                await approver.start(thread, request)
            asked = thread.user_input_request(line)
            if asked is not None:
                await thread.submit(UserInputAnswer(id=asked.turn_id,
                                                    response={"answers": {}}),
                                    decided_by=Approver.UNATTENDED)
    finally:
        await approver.withdraw()


def _write_last_message(path: Path, message: str | None) -> bool:
    """Write ``-o FILE``; False (reported) when it could not be written: the run then
    fails, since whoever asked for the file would read a stale or missing answer."""
    try:
        path.write_text(message or "", encoding="utf-8")
    except OSError as exc:
        report_error("exec", os_error(exc, path, doing="-o: cannot write"))
        return False
    if message is None:
        warn("exec", f"no last agent message; wrote empty content to {path}")
    return True
