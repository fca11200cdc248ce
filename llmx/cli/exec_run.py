"""What ``llmx exec`` does once its flags are parsed: set up, run one turn, report.

Output comes only from the projections fed by the session log's published lines, the
same folds ``llmx replay`` runs over the file, so what a run printed and what a replay of
its rollout prints are the same.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import mimetypes
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import msgspec

from llmx.cli.errors import CommandError, os_error, report, report_error, warn
from llmx.cli.exec_prompt import resolve_prompt
from llmx.runtime.config_types import ConfigError

if TYPE_CHECKING:
    import httpx

    from llmx.events.event_log import EventLog
    from llmx.events.lines import RolloutLine
    from llmx.events.primitives import ImageInput, TokenUsage, UserInput
    from llmx.runtime.config import ModelProviderInfo
    from llmx.runtime.config_types import LoadedConfig
    from llmx.runtime.session_history import PromptHistory
    from llmx.runtime.session_types import HistoryItem, SessionSettings

# Lines the in-process frontend may hold unread; it reads as the turn runs, so this bound
# is only there to be far above any burst.
_FRONTEND_CAPACITY = 1 << 20


class ExecError(CommandError):
    """A setup problem: one line on stderr (``llmx exec: what — what to do``), exit
    status ``code``."""


class Invocation(msgspec.Struct, frozen=True):
    resume: bool
    session_id: str | None
    prompt: str | None


def parse_words(args: argparse.Namespace) -> Invocation:
    from llmx.cli.exec_cmd import reparse_words

    reparse_words(args)
    words: list[str] = list(args.words)
    if not words or words[0] != "resume":
        if len(words) > 1:
            raise ExecError(
                f"unexpected argument {words[1]!r}", "quote the prompt as one argument", code=2
            )
        if args.last or args.all:
            raise ExecError("--last and --all need resume", "use 'llmx exec resume --last'",
                            code=2)
        return Invocation(False, None, words[0] if words else None)
    rest = words[1:]
    if args.last:
        if len(rest) > 1:
            raise ExecError("resume --last takes at most one argument",
                            "pass the prompt as one quoted argument", code=2)
        return Invocation(True, None, rest[0] if rest else None)
    if not rest:
        raise ExecError("resume needs a session", "pass a SESSION_ID or --last", code=2)
    if len(rest) > 2:
        raise ExecError(f"unexpected argument {rest[2]!r} after resume",
                        "quote the prompt as one argument", code=2)
    return Invocation(True, rest[0], rest[1] if len(rest) > 1 else None)


def run_exec(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except CommandError as exc:
        return report_error("exec", exc)
    except ConfigError as exc:
        report("exec", str(exc))
        return 1


def _run(args: argparse.Namespace) -> int:
    from llmx.events.home import llmx_home

    invocation = parse_words(args)
    home = llmx_home()
    cwd = Path(args.cd).expanduser() if args.cd else Path.cwd()
    if not cwd.is_dir():
        raise ExecError(f"-C {args.cd}: no such directory", "pass an existing directory")
    cwd = cwd.resolve()
    from llmx.runtime.config_cache import load_config_cached

    # Flags > -c > profile > config.toml > defaults; a bad value names where it was set.
    # Unchanged inputs are read from the validated-config cache (no pydantic import);
    # an ephemeral run writes nothing, not even that cache.
    loaded = load_config_cached(
        home, overrides=args.config, profile=args.profile, flags={"model": args.model},
        write=not args.ephemeral,
    )
    for warning in loaded.warnings:
        warn("exec", warning)
    resume_path: Path | None = None
    if invocation.resume:
        from llmx.cli.exec_resume import find_rollout

        resume_path = find_rollout(home, invocation.session_id, cwd=cwd, all_dirs=args.all,
                                   read_only=args.ephemeral)
    if not args.skip_git_repo_check:
        from llmx.runtime.instructions import find_git_root

        if find_git_root(cwd) is None and not _trusted(loaded, cwd):
            raise ExecError(
                f"{cwd} is not inside a git repository or a trusted directory",
                "run it in one, or pass --skip-git-repo-check",
            )
    prompt = resolve_prompt(invocation.prompt, sys.stdin.buffer, stdin_is_tty=sys.stdin.isatty())
    schema = _output_schema(args.output_schema)
    images = _images(args.image, cwd)
    setup = _prepare(args, loaded, cwd, home, resume_path)
    from llmx.events.primitives import TextInput

    items: list[UserInput] = [*images, TextInput(text=prompt)]
    return asyncio.run(_drive(args, setup, items, schema))


def _trusted(loaded: LoadedConfig, cwd: Path) -> bool:
    project = loaded.config.projects.get(str(cwd), {})
    return project.get("trust_level") == "trusted"


def _output_schema(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        schema = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExecError(f"--output-schema {path}: cannot read a JSON schema ({exc})",
                        "pass a readable JSON file") from None
    if not isinstance(schema, dict):
        raise ExecError(f"--output-schema {path}: the schema is not a JSON object",
                        "pass a JSON Schema object")
    return schema


def _images(values: list[str], cwd: Path) -> list[ImageInput]:
    from llmx.events.primitives import ImageInput

    items: list[ImageInput] = []
    for value in values:
        for name in filter(None, (part.strip() for part in value.split(","))):
            path = (cwd / name).resolve()
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise ExecError(f"--image {name}: {exc.strerror or exc}",
                                "pass a readable image file") from None
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
            items.append(ImageInput(image_url=url))
    return items


class _Setup(msgspec.Struct):
    settings: SessionSettings
    log: EventLog
    model: Any
    history: list[HistoryItem]
    # The resumed file's ``session_meta`` line, shown first as a replay would show it.
    resumed_meta: RolloutLine | None
    show_reasoning: bool
    home: Path
    # ``history.jsonl`` for the prompt (None: ephemeral or ``persistence = "none"``).
    prompt_history: PromptHistory | None
    # A resumed thread's recorded running token total (None: new, or none recorded).
    token_usage: TokenUsage | None
    # The HTTP client exec made for the model client (closed by exec), if any.
    http: httpx.AsyncClient | None = None


def _prepare(
    args: argparse.Namespace, loaded: LoadedConfig, cwd: Path, home: Path, resume: Path | None
) -> _Setup:
    from llmx.events.event_log import EventLog
    from llmx.events.ids import new_thread_id
    from llmx.runtime.config_types import ApprovalPolicy
    from llmx.runtime.instructions import (
        BASE_INSTRUCTIONS,
        discover_project_docs,
        user_instructions_text,
    )
    _skip_httpx_command_line()
    from llmx.runtime.models.client import open_model_client
    from llmx.runtime.session import session_meta
    from llmx.runtime.session_rollout import rollout_options
    from llmx.runtime.session_sandbox import sandbox_setup
    from llmx.runtime.session_types import SessionSettings
    from llmx.sandbox.policy import PolicyError, policy_to_dict
    from llmx.sandbox.resolve import SandboxConfig, SandboxFlags, resolve_sandbox

    config = loaded.config
    # The frontend reads every line in the same process: it must never be dropped.
    options = rollout_options(config.rollout, subscriber_capacity=_FRONTEND_CAPACITY)
    history: list[HistoryItem] = []
    thread_id = new_thread_id()
    resumed_meta = None
    token_usage = None
    resumed_log = None
    if resume is not None:
        from llmx.cli.exec_resume import load_resume, open_resumed_log

        # The writer lock first: a session another process is writing is refused before
        # anything is read, and nothing can be appended between the read and our writes.
        resumed_log = open_resumed_log(resume, ephemeral=args.ephemeral, options=options)
        resumed = load_resume(resume)
        thread_id, history, resumed_meta = resumed.thread_id, resumed.history, resumed.meta
        token_usage = resumed.token_usage
    try:
        sandbox = resolve_sandbox(
            # The profile is already merged into the document.
            SandboxConfig.from_mapping(loaded.document, cwd=cwd, config_profile=None),
            SandboxFlags(
                sandbox=args.sandbox, full_auto=args.full_auto, bypass=args.bypass,
                add_dirs=tuple(args.add_dir),
            ),
            cwd=cwd, thread_id=thread_id, home=None,
        )
    except PolicyError as exc:
        raise ExecError(str(exc)) from None
    approval = _approval_policy(args, loaded)
    provider = loaded.provider
    docs = discover_project_docs(cwd, config.project_doc_max_bytes)
    settings = SessionSettings(
        thread_id=thread_id,
        cwd=cwd,
        model=config.model,
        model_provider=config.model_provider,
        approval_policy=ApprovalPolicy.parse(approval, source="-a/approval_policy"),
        sandbox=sandbox_setup(sandbox.plan, policy_to_dict(sandbox.policy), resolved=sandbox),
        base_instructions=config.instructions or BASE_INSTRUCTIONS,
        user_instructions=user_instructions_text(cwd, docs),
        reasoning_effort=(
            config.model_reasoning_effort.value if config.model_reasoning_effort else None
        ),
        reasoning_summary=(
            config.model_reasoning_summary.value if config.model_reasoning_summary else "auto"
        ),
        model_context_window=config.model_context_window,
        env=sandbox.plan.env,
        notify=tuple(config.notify or ()),
        shell=Path(os.environ.get("SHELL") or "/bin/bash").name,
        originator=originator(),
        thread_source=args.thread_source,
    )
    # ``--ephemeral`` changes the sink (nothing is written), never the code path.
    if resumed_log is not None:
        log = resumed_log
        for notice in log.notices:
            warn("exec", notice)
    else:
        # The file appears when the first request reached the model (the turn persists
        # the log then): a run that fails before that leaves no session behind.
        log = EventLog.for_new_thread(
            home, session_meta(settings), ephemeral=args.ephemeral, options=options,
            until_persisted=True,
        )
    prompt_history = None
    if log.path is not None:
        from llmx.runtime.session_history import PromptHistory

        prompt_history = PromptHistory.for_home(home, config.history, _warn)
    http = _plain_http_client(provider)
    model = open_model_client(config.model_provider, provider, originator=originator(),
                              http_client=http)
    return _Setup(settings, log, model, history, resumed_meta, not config.hide_agent_reasoning,
                  home, prompt_history, token_usage, http)


# Codex's SDKs name themselves to the runtime they drive with this variable (the
# TypeScript SDK sets ``codex_sdk_ts``); it becomes the thread's and the requests'
# originator.
ORIGINATOR_ENV = "CODEX_INTERNAL_ORIGINATOR_OVERRIDE"


def originator() -> str:
    return os.environ.get(ORIGINATOR_ENV, "").strip() or "llmx_exec"


def _warn(message: str) -> None:
    warn("exec", message)


def _plain_http_client(provider: ModelProviderInfo) -> httpx.AsyncClient | None:
    """For a provider on plain ``http://`` (a local server): a client without TLS set-up.

    httpx builds a TLS context with the CA bundle for every client (~35 ms), which a
    plain-http provider never uses: its requests carry no TLS, and redirects (to https or
    anywhere) are not followed. Other providers get the model client's own default.
    """
    if not (provider.base_url or "").startswith("http://"):
        return None
    import httpx

    from llmx.runtime.models.client import CONNECT_TIMEOUT_S

    idle = provider.effective_stream_idle_timeout_ms / 1000.0
    timeout = httpx.Timeout(idle, connect=min(CONNECT_TIMEOUT_S, max(idle, 1.0)))
    return httpx.AsyncClient(timeout=timeout, verify=False, follow_redirects=False)


def _skip_httpx_command_line() -> None:
    """Keep httpx's own command-line tool (click, rich: ~35 ms) out of the process.

    httpx's ``__init__`` imports ``httpx._main`` inside ``try``/``except ImportError`` and
    falls back to a stub ``main``; a ``None`` entry in ``sys.modules`` is Python's way of
    making that import fail. Nothing in llmx calls ``httpx.main``.
    """
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None blocks the import


def _approval_policy(args: argparse.Namespace, loaded: LoadedConfig) -> str:
    if args.ask_for_approval:
        return str(args.ask_for_approval)
    if args.bypass:
        return "never"
    if args.full_auto:
        return "on-request"
    # exec cannot ask anyone, so unless told otherwise it never asks (as Codex exec).
    if "approval_policy" in loaded.document:
        return str(loaded.config.approval_policy.value)
    return "never"


async def _drive(
    args: argparse.Namespace, setup: _Setup, items: list[UserInput],
    schema: dict[str, Any] | None,
) -> int:
    from llmx.cli.exec_output import ExecOutput
    from llmx.events.ops import Interrupt, ReviewDecision, Shutdown, UserTurn
    from llmx.runtime.session import Session
    from llmx.runtime.session_index_updates import SessionIndexUpdates
    from llmx.runtime.session_types import ApprovalRequest

    output = ExecOutput(json_mode=args.json, color=args.color,
                        show_reasoning=setup.show_reasoning)
    # Everything shown comes from the log's subscriber stream: live equals replay.
    subscription = setup.log.subscribe()
    if setup.resumed_meta is not None:
        output.on_line(setup.resumed_meta)

    async def render() -> None:
        async for line in subscription:
            output.on_line(line)

    renderer = asyncio.create_task(render())
    decisions = [ReviewDecision(value) for value in args.approval_decision]

    async def respond(request: ApprovalRequest) -> ReviewDecision:
        # exec has nobody to ask: scripted answers first, then deny (fail closed).
        return decisions.pop(0) if decisions else ReviewDecision.DENIED

    settings = setup.settings
    # The session index learns of the rollout as turns end; an ephemeral run has no file.
    index = None if setup.log.path is None else SessionIndexUpdates(setup.home)
    session = Session(settings, setup.log, setup.model, history=setup.history,
                      approval_responder=respond, index=index,
                      prompt_history=setup.prompt_history, token_usage=setup.token_usage)
    runner = asyncio.create_task(session.run())
    loop = asyncio.get_running_loop()
    interrupts: set[asyncio.Task[str]] = set()

    def on_sigint() -> None:
        task = loop.create_task(session.submit(Interrupt()))
        interrupts.add(task)
        task.add_done_callback(interrupts.discard)

    loop.add_signal_handler(signal.SIGINT, on_sigint)
    turn = UserTurn(
        items=items, cwd=str(settings.cwd), approval_policy=settings.approval_policy.value,
        sandbox_policy=settings.sandbox.policy_json, model=settings.model,
        summary=settings.reasoning_summary, final_output_json_schema=schema,
    )
    if settings.reasoning_effort is not None:
        turn.effort = settings.reasoning_effort
    try:
        await session.submit(turn)
        await session.submit(Shutdown())
        await runner
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        await setup.model.aclose()
        if setup.http is not None:
            await setup.http.aclose()
        # Ends the subscription (a no-op after a clean shutdown), so the renderer drains.
        await setup.log.close()
        await renderer
    output.finish()
    written = True
    if args.output_last_message:
        written = _write_last_message(Path(args.output_last_message), session.last_agent_message)
    return 1 if session.failed or session.aborted or not written else 0


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


def _stream_is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except ValueError:
        return False
