"""Reading outcomes from tool output text, where Codex 0.169 leaves no structured record.

These are the exact phrases Codex writes into ``function_call_output`` when a command was
refused, aborted or failed before it produced an item (see the codex-rich fixtures).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from msgspec import UnsetType

from llmx.events.nesting import check_nesting
from llmx.events.primitives import Duration
from llmx.events.response_items import FunctionOutput, InputText, OutputText

# Tools whose calls run a shell command.
EXEC_TOOLS = frozenset({"exec_command", "shell", "shell_command", "local_shell", "container.exec"})
# Interaction with an already running command: not a command of its own.
INTERACTION_TOOLS = frozenset({"write_stdin"})

_REJECTED_BY_USER = 'Rejected(\\"rejected by user\\")'
_REJECTED_PLAIN = 'Rejected("rejected by user")'
_ABORTED = "aborted by user"
_EXIT_CODE = re.compile(r"(?:Process exited with code|Exit code:) (-?\d+)")
_RUNNING = re.compile(r"Process running with session ID (\d+)")
_WALL_TIME = re.compile(r"Wall time: ([0-9.]+) seconds")
# What a kernel sandbox denial looks like from inside the command.
_SANDBOX_DENIAL_PHRASES = (
    "Read-only file system",
    "Operation not permitted",
    "Permission denied",
    "Network is unreachable",
    "Could not resolve host",
    "Temporary failure in name resolution",
)


@dataclass(frozen=True, slots=True)
class ExecArguments:
    command: str
    argv: list[str] | None
    workdir: str | None
    escalated: bool
    justification: str | None
    prefix_rule: list[str] | None


def output_text(output: FunctionOutput | None) -> str:
    """A tool output as text (a string, or a list of text and image parts)."""
    if isinstance(output, str):
        return output
    if output is None:
        return ""
    return "\n".join(
        part.text if isinstance(part, InputText | OutputText) else "" for part in output
    )


def parse_exec_arguments(arguments: Any) -> ExecArguments:
    """The command of an exec-style call from its JSON ``arguments`` string."""
    data: Any = arguments
    if isinstance(arguments, str):
        try:
            check_nesting(arguments)
            data = json.loads(arguments)
        except ValueError:
            return ExecArguments(arguments, None, None, False, None, None)
    if not isinstance(data, dict):
        return ExecArguments(str(arguments), None, None, False, None, None)
    raw = data.get("cmd", data.get("command"))
    argv = [str(part) for part in raw] if isinstance(raw, list) else None
    command = " ".join(argv) if argv is not None else str(raw or "")
    prefix = data.get("prefix_rule")
    workdir = data.get("workdir") or data.get("cwd")
    justification = data.get("justification")
    return ExecArguments(
        command=command,
        argv=argv,
        workdir=workdir if isinstance(workdir, str) else None,
        escalated=data.get("sandbox_permissions") == "require_escalated",
        justification=justification if isinstance(justification, str) else None,
        prefix_rule=[str(part) for part in prefix] if isinstance(prefix, list) else None,
    )


def rejected_by_user(text: str) -> bool:
    return _REJECTED_BY_USER in text or _REJECTED_PLAIN in text


def aborted_by_user(text: str) -> bool:
    return text.rstrip().endswith(_ABORTED)


def exit_code_in(text: str) -> int | None:
    match = _EXIT_CODE.search(text)
    return int(match[1]) if match else None


def still_running(text: str) -> bool:
    return _RUNNING.search(text) is not None


def wall_time(text: str) -> float | None:
    match = _WALL_TIME.search(text)
    return float(match[1]) if match else None


def looks_sandbox_denied(text: str) -> bool:
    return any(phrase in text for phrase in _SANDBOX_DENIAL_PHRASES)


def strip_file_url(path: str | None) -> str | None:
    """Codex 0.169 writes item ``cwd`` as a ``file://`` URL."""
    return None if path is None else path.removeprefix("file://")


def duration_seconds(duration: Duration | UnsetType) -> float | None:
    return None if isinstance(duration, UnsetType) else duration.total_seconds()


def policy_type(policy: Any) -> str | None:
    if isinstance(policy, dict):
        kind = policy.get("type")
        return kind if isinstance(kind, str) else None
    return policy if isinstance(policy, str) else None


def profile_summary(profile: Any) -> str | None:
    """``managed: fs restricted (2 writable), network restricted`` and the like."""
    if not isinstance(profile, dict):
        return None
    parts = [str(profile.get("type", "?"))]
    file_system = profile.get("file_system")
    if isinstance(file_system, dict):
        entries = file_system.get("entries") or []
        writable = sum(1 for entry in entries if isinstance(entry, dict)
                       and entry.get("access") == "write")
        parts.append(f"fs {file_system.get('type', '?')} ({writable} writable)")
    network = profile.get("network")
    if network is not None:
        parts.append(f"network {network}")
    return ", ".join(parts)
