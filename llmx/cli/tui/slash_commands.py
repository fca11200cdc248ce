"""The slash commands of the composer: their names, what each does, and parsing.

The app carries them out; this module only knows the words. Commands that change the
session become submissions (or thread switches through the door); the others only show
something (``/diff``, ``/status``).
"""

from __future__ import annotations

from typing import NamedTuple


class SlashCommand(NamedTuple):
    name: str
    summary: str


COMMANDS: tuple[SlashCommand, ...] = (
    SlashCommand("model", "choose the model for the next turns (/model NAME)"),
    SlashCommand("permissions", "choose the sandbox and approval policy"),
    SlashCommand("new", "start a new session"),
    SlashCommand("resume", "resume a saved session"),
    SlashCommand("fork", "fork this session into a new one"),
    SlashCommand("rename", "rename this session (/rename NAME)"),
    SlashCommand("compact", "summarise the conversation to free context"),
    SlashCommand("init", "create an AGENTS.md with instructions for this project"),
    SlashCommand("diff", "show the working tree's changes (git diff, untracked files too)"),
    SlashCommand("status", "show the session's settings and token usage"),
    SlashCommand("mcp", "list the MCP servers and their tools"),
    SlashCommand("quit", "leave (the session can be resumed)"),
    SlashCommand("exit", "leave (the session can be resumed)"),
)

# The permission presets of ``/permissions``: (label, sandbox mode, approval policy).
PERMISSION_PRESETS: tuple[tuple[str, str, str], ...] = (
    ("Read only: ask before any change", "read-only", "on-request"),
    ("Auto: work in this folder, ask to go beyond", "workspace-write", "on-request"),
    ("Full access: no sandbox, never ask", "danger-full-access", "never"),
)

INIT_PROMPT = (
    "Generate a file named AGENTS.md that serves as a contributor guide for this "
    "repository. Look at the project's layout, its build and test commands and its coding "
    "conventions, and write concise, specific instructions under clear headings "
    "(structure, build and test, style, commits). Keep it short."
)


def matching(prefix: str) -> list[SlashCommand]:
    """Commands whose name starts with ``prefix`` (without the slash), in menu order."""
    return [command for command in COMMANDS if command.name.startswith(prefix)]


def parse(text: str) -> tuple[str, str] | None:
    """``("name", "argument")`` for a ``/name argument`` line, None for anything else."""
    stripped = text.strip()
    if not stripped.startswith("/") or stripped.startswith("//"):
        return None
    name, _, argument = stripped[1:].partition(" ")
    if not name or "/" in name:
        return None
    return name, argument.strip()
