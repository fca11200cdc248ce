"""What each slash command does in the app.

A command that changes the session is a submission through the thread (``/compact``,
``/init``, ``/rename``), a switch of thread through the door (``/new``, ``/resume``,
``/fork``), or a per-turn setting (``/model``, ``/permissions``) that every following
``user_turn`` submission carries, as in Codex; ``/diff``, ``/status`` and ``/mcp`` only
show something.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rich.text import Text

from llmx.cli.tui import slash_commands as slash
from llmx.events.ops import Compact, SetThreadName
from llmx.events.primitives import TextInput

if TYPE_CHECKING:
    from llmx.cli.tui.door import Door
    from llmx.events.ops import Op
    from llmx.events.primitives import UserInput
    from llmx.projections.transcript import SessionStatus
    from llmx.runtime import AgentThread, ThreadRef


class SlashHost(Protocol):
    """What the slash commands use of the app (``LlmxApp`` is one); named here so that
    this module and the app do not import each other."""

    cwd: Path
    thread: AgentThread | None
    door: Door | None
    turn_model: str | None
    turn_permissions: tuple[str, str] | None

    def note(self, text: str) -> None: ...

    def next_turn_status(self) -> SessionStatus: ...

    def show_page(self, title: str, body: Text) -> None: ...

    async def submit(self, op: Op) -> bool: ...

    def turn_op(self, items: list[UserInput]) -> Op: ...

    async def quit_session(self) -> None: ...

    async def switch_to_new(self) -> None: ...

    async def switch_to_ref(self, ref: ThreadRef) -> None: ...

    async def switch_to_fork(self) -> None: ...

    def open_picker(self, *, all_folders: bool = ..., first: bool = ...) -> None: ...

    def push_screen(self, screen: Any, callback: Any = ...) -> Any: ...

    def run_worker(self, work: Any, *, group: str = ...) -> Any: ...

GIT_TIMEOUT_S = 20.0
_REPLAY = "this view has no runtime behind it (a replay)"


async def run_slash_command(app: SlashHost, name: str, argument: str) -> None:
    if name in ("quit", "exit"):
        await app.quit_session()
    elif name == "diff":
        app.show_page("git diff", workspace_diff(app.cwd))
    elif name == "status":
        app.show_page("status", status_page(app))
    elif not any(command.name == name for command in slash.COMMANDS):
        app.note(f"/{name}: no such command — type / to see the commands")
    elif app.door is None or app.thread is None:
        app.note(f"/{name}: {_REPLAY} — run `llmx` or `llmx resume`")
    elif name == "mcp":
        app.show_page("MCP servers", mcp_page(app.thread))
    elif name == "new":
        await app.switch_to_new()
    elif name == "resume":
        await _resume(app, argument)
    elif name == "fork":
        await app.switch_to_fork()
    elif name == "rename":
        await _rename(app, argument)
    elif name == "compact":
        await app.submit(Compact())
    elif name == "model":
        _model(app, argument)
    elif name == "permissions":
        _permissions(app, argument)
    elif name == "init":
        await _init(app)


async def _resume(app: SlashHost, argument: str) -> None:
    from llmx.runtime import ThreadRef

    if argument:
        await app.switch_to_ref(ThreadRef.by_id(argument))
        return
    app.open_picker()


async def _rename(app: SlashHost, argument: str) -> None:
    if not argument:
        app.note("/rename: give the new name — /rename NAME")
        return
    await app.submit(SetThreadName(name=argument))


def _model(app: SlashHost, argument: str) -> None:
    if not argument:
        model = app.next_turn_status().model or "?"
        app.note(f"/model: the model is {model} — /model NAME to change it for the next turns")
        return
    # Sent with each following prompt (user_turn's model), as Codex's TUI does.
    app.turn_model = argument
    app.note(f"/model: the next turns use {argument}")


def _permissions(app: SlashHost, argument: str) -> None:
    presets = {label.split(":")[0].lower().replace(" ", "-"): (mode, policy)
               for label, mode, policy in slash.PERMISSION_PRESETS}
    chosen = presets.get(argument.lower())
    if chosen is not None:
        _set_permissions(app, chosen)
        return
    from llmx.cli.tui.permissions_screen import PermissionsScreen

    def picked(preset: tuple[str, str] | None) -> None:
        if preset is not None:
            _set_permissions(app, preset)

    app.push_screen(PermissionsScreen(), picked)


def _set_permissions(app: SlashHost, preset: tuple[str, str]) -> None:
    # Per-turn settings: each following user_turn carries this sandbox and policy.
    app.turn_permissions = preset
    mode, policy = preset
    app.note(f"/permissions: the next turns run {mode} with approval {policy}")


async def _init(app: SlashHost) -> None:
    if (app.cwd / "AGENTS.md").exists():
        app.note("/init: AGENTS.md already exists here — edit it, or remove it first")
        return
    await app.submit(app.turn_op([TextInput(text=slash.INIT_PROMPT)]))


def workspace_diff(cwd: Path) -> Text:
    """``git diff`` of the working tree plus the untracked files, coloured."""
    from llmx.cli.tui.cell_render import diff_text

    def git(*args: str, differs: int = 0) -> str:
        """The output of ``git ARGS``, or "" when it failed. ``differs``: the exit status
        that says "the files differ" (1 for ``diff --no-index``), not a failure."""
        try:
            done = subprocess.run(["git", *args], cwd=cwd, capture_output=True,
                                  timeout=GIT_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"git {' '.join(args)}: {exc}\n"
        if done.returncode not in (0, differs):
            return ""
        return done.stdout.decode("utf-8", "replace")

    if not git("rev-parse", "--is-inside-work-tree").strip():
        return Text(f"{cwd} is not inside a git repository", style="yellow")
    diff = git("diff", "--no-color")
    untracked = [name for name in git("ls-files", "--others", "--exclude-standard").splitlines()
                 if name]
    for name in untracked:
        diff += git("diff", "--no-color", "--no-index", "/dev/null", name, differs=1)
    if not diff.strip():
        return Text("No changes.", style="dim")
    return diff_text(diff)


def status_page(app: SlashHost) -> Text:
    # What the next prompt runs with, as the status line shows it.
    status = app.next_turn_status()
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
    if app.thread is not None and app.thread.rollout_path is not None \
            and app.thread.rollout_path.exists():  # written from the first prompt on
        rows.append(("rollout", str(app.thread.rollout_path)))
    text = Text()
    for key, value in rows:
        text.append(f"{key + ':':<17}", style="bold")
        text.append(f"{value}\n")
    return text


_SERVER_STYLES = {"ready": "green", "starting": "cyan", "failed": "red"}


def mcp_page(thread: AgentThread) -> Text:
    """The thread's MCP servers (``[mcp_servers]``): how each one's start went, and its
    tools."""
    connections = thread.settings.mcp
    servers = list(connections.servers.values()) if connections is not None else []
    text = Text()
    if not servers:
        text.append("No MCP servers are configured: add an [mcp_servers.NAME] table to "
                    "config.toml (see 'llmx mcp add').\n")
        return text
    for server in servers:
        state = server.state.value
        text.append("• ")
        text.append(server.name, style="bold")
        text.append(f"  {state}", style=_SERVER_STYLES.get(state, ""))
        if server.error:
            text.append(f": {server.error}", style="red")
        text.append("\n")
        if server.tools:
            for number, tool in enumerate(sorted(server.tools, key=lambda tool: tool.name)):
                text.append("  └ " if number == 0 else "    ")
                text.append(tool.name, style="bold")
                if tool.description:
                    text.append(f"  {tool.description.splitlines()[0]}", style="dim")
                text.append("\n")
        elif state == "ready":
            text.append("  └ (no tools)\n", style="dim")
    return text
