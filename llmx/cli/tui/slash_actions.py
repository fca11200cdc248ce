"""What each slash command does in the app.

A command that changes the session is a submission through the thread (``/compact``,
``/model``, ``/permissions``, ``/init``, ``/rename``) or a switch of thread through the
door (``/new``, ``/resume``, ``/fork``); ``/diff`` and ``/status`` only show something.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rich.text import Text

from llmx.cli.tui import slash_commands as slash
from llmx.events.ops import Compact, OverrideTurnContext, SetThreadName, UserInputOp
from llmx.events.primitives import TextInput
from llmx.projections.transcript_pages import TranscriptPages

if TYPE_CHECKING:
    from llmx.cli.tui.thread_link import ThreadLink, ThreadOpener
    from llmx.events.ops import Op
    from llmx.projections.transcript import TranscriptFold


class SlashHost(Protocol):
    """What the slash commands use of the app (``LlmxApp`` is one); named here so that
    this module and the app do not import each other."""

    cwd: Path
    link: ThreadLink | None
    opener: ThreadOpener | None
    fold: TranscriptFold

    def note(self, text: str) -> None: ...

    def show_page(self, title: str, body: Text) -> None: ...

    async def submit(self, op: Op) -> None: ...

    async def quit_session(self) -> None: ...

    async def switch_to(self, link: ThreadLink, pages: TranscriptPages | None) -> None: ...

    def push_screen(self, screen: Any, callback: Any = ...) -> Any: ...

    def run_worker(self, work: Any, *, group: str = ...) -> Any: ...

GIT_TIMEOUT_S = 20.0


async def run_slash_command(app: SlashHost, name: str, argument: str) -> None:
    if name in ("quit", "exit"):
        await app.quit_session()
    elif name == "new":
        await _new(app)
    elif name == "resume":
        await _resume(app, argument)
    elif name == "fork":
        await _fork(app)
    elif name == "rename":
        await _rename(app, argument)
    elif name == "compact":
        await app.submit(Compact())
    elif name == "model":
        await _model(app, argument)
    elif name == "permissions":
        _permissions(app, argument)
    elif name == "init":
        await _init(app)
    elif name == "diff":
        app.show_page("git diff", workspace_diff(app.cwd))
    elif name == "status":
        app.show_page("status", status_page(app))
    elif name == "mcp":
        app.note("/mcp: llmx does not start MCP servers yet — [mcp_servers] is read and ignored")
    else:
        app.note(f"/{name}: no such command — type / to see the commands")


async def _new(app: SlashHost) -> None:
    if app.opener is None:
        app.note("/new: this view has no runtime behind it (a replay) — run `llmx`")
        return
    await app.switch_to(await app.opener.new(), None)


async def _resume(app: SlashHost, argument: str) -> None:
    if app.opener is None:
        app.note("/resume: this view has no runtime behind it (a replay) — run `llmx resume`")
        return
    opener = app.opener
    if argument:
        from llmx.events.home import llmx_home
        from llmx.projections.session_listing import SessionLookupError, resolve_session

        try:
            path = resolve_session(llmx_home(), argument)
        except SessionLookupError as exc:
            app.note(f"/resume: {exc}")
            return
        await app.switch_to(await opener.resume(path), TranscriptPages(path))
        return
    from llmx.cli.tui.resume_picker import ResumePicker
    from llmx.events.home import llmx_home

    def chosen(path: Path | None) -> None:
        if path is not None:
            app.run_worker(_switch_resumed(app, path), group="submit")

    app.push_screen(ResumePicker(llmx_home(), app.cwd), chosen)


async def _switch_resumed(app: SlashHost, path: Path) -> None:
    assert app.opener is not None
    await app.switch_to(await app.opener.resume(path), TranscriptPages(path))


async def _fork(app: SlashHost) -> None:
    link = app.link
    if app.opener is None or link is None:
        app.note("/fork: this view has no runtime behind it (a replay)")
        return
    path = link.rollout_path
    if path is None or not path.exists():
        app.note("/fork: nothing to fork yet — send a prompt first")
        return
    forked = await app.opener.fork(path)
    await app.switch_to(forked, TranscriptPages(path))


async def _rename(app: SlashHost, argument: str) -> None:
    if not argument:
        app.note("/rename: give the new name — /rename NAME")
        return
    await app.submit(SetThreadName(name=argument))


async def _model(app: SlashHost, argument: str) -> None:
    if not argument:
        model = app.fold.status.model or "?"
        app.note(f"/model: the model is {model} — /model NAME to change it for the next turns")
        return
    await app.submit(OverrideTurnContext(model=argument))


def _permissions(app: SlashHost, argument: str) -> None:
    presets = {label.split(":")[0].lower().replace(" ", "-"): (mode, policy)
               for label, mode, policy in slash.PERMISSION_PRESETS}
    chosen = presets.get(argument.lower())
    if chosen is None:
        from llmx.cli.tui.permissions_screen import PermissionsScreen

        def picked(preset: tuple[str, str] | None) -> None:
            if preset is not None:
                app.run_worker(_override_permissions(app, *preset), group="submit")

        app.push_screen(PermissionsScreen(), picked)
        return
    app.run_worker(_override_permissions(app, *chosen), group="submit")


async def _override_permissions(app: SlashHost, mode: str, policy: str) -> None:
    await app.submit(OverrideTurnContext(approval_policy=policy, sandbox_policy={"type": mode}))


async def _init(app: SlashHost) -> None:
    if (app.cwd / "AGENTS.md").exists():
        app.note("/init: AGENTS.md already exists here — edit it, or remove it first")
        return
    await app.submit(UserInputOp(items=[TextInput(text=slash.INIT_PROMPT)]))


def workspace_diff(cwd: Path) -> Text:
    """``git diff`` of the working tree plus the untracked files, coloured."""
    from llmx.cli.tui.cell_render import diff_text

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=cwd, capture_output=True,
                                  timeout=GIT_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"git {' '.join(args)}: {exc}\n"
        if done.returncode != 0:
            return ""
        return done.stdout.decode("utf-8", "replace")

    if not git("rev-parse", "--is-inside-work-tree").strip():
        return Text(f"{cwd} is not inside a git repository", style="yellow")
    diff = git("diff", "--no-color")
    untracked = [name for name in git("ls-files", "--others", "--exclude-standard").splitlines()
                 if name]
    for name in untracked:
        diff += git("diff", "--no-color", "--no-index", "/dev/null", name)
    if not diff.strip():
        return Text("No changes.", style="dim")
    return diff_text(diff)


def status_page(app: SlashHost) -> Text:
    status = app.fold.status
    rows = [
        ("session", status.thread_id or "(new, not saved until the first prompt)"),
        ("name", status.thread_name or ""),
        ("model", status.model),
        ("directory", status.cwd or str(app.cwd)),
        ("sandbox", status.sandbox),
        ("approval policy", status.approval_policy),
        ("tokens used", f"{status.total_tokens:,}"),
    ]
    left = status.context_left_percent()
    if left is not None:
        rows.append(("context left", f"{left}% of {status.context_window:,}"))
    if app.link is not None and app.link.rollout_path is not None:
        rows.append(("rollout", str(app.link.rollout_path)))
    text = Text()
    for key, value in rows:
        text.append(f"{key + ':':<17}", style="bold")
        text.append(f"{value}\n")
    return text
