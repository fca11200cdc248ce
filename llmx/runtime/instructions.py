"""What the model is told before the user speaks: base instructions, AGENTS.md, environment.

AGENTS.md files are collected from the git root (or the cwd when there is no repository)
down to the cwd, outermost first, so that the nearest file has the last word. The total is
capped at ``project_doc_max_bytes`` (32 KiB by default, as in Codex); what does not fit is
cut, never silently reordered.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

DEFAULT_PROJECT_DOC_MAX_BYTES = 32 * 1024
PROJECT_DOC_NAME = "AGENTS.md"

BASE_INSTRUCTIONS = """\
You are llmx, a coding agent working in the user's terminal, inside their workspace. Be \
precise, safe and helpful; say briefly what you are about to do, then do it.

# Tools
- `exec_command` runs a shell command in the working directory under the session's sandbox. \
Prefer fast, read-only commands (`rg`, `ls`, `sed -n`) to explore. If a command must run \
outside the sandbox (to write outside the workspace or reach the network), call it again with \
`sandbox_permissions: "require_escalated"` and a one-sentence `justification`; the user is \
asked first.
- `apply_patch`, when you have it, edits files. Send the whole patch, from `*** Begin Patch` \
to `*** End Patch`, with `*** Add File:`, `*** Update File:` (optionally `*** Move to:`) and \
`*** Delete File:` sections. Paths are relative to the working directory.

# Working rules
- Follow the instructions in AGENTS.md files; deeper files win over shallower ones, and the \
user's own words win over both.
- Change only what the task needs; keep the existing style; do not commit unless asked.
- When you are done, reply with a short summary of what changed and anything left to do.
"""


class ProjectDoc(msgspec.Struct, frozen=True):
    path: Path
    text: str


def find_git_root(cwd: Path) -> Path | None:
    """The nearest folder holding a repository: a ``.git`` folder with a ``HEAD``, or a
    ``.git`` file pointing elsewhere (``gitdir:``). An empty ``.git`` folder is not one
    (git looks further up too): the sandbox masks a missing ``.git`` of a writable root,
    ``/tmp`` among them, with one while a command runs."""
    for directory in (cwd, *cwd.parents):
        git = directory / ".git"
        if (git / "HEAD").exists():
            return directory
        if git.is_file():
            try:
                with open(git, "rb") as f:
                    if f.read(7) == b"gitdir:":
                        return directory
            except OSError:
                continue
    return None


def discover_project_docs(
    cwd: Path, max_bytes: int = DEFAULT_PROJECT_DOC_MAX_BYTES
) -> list[ProjectDoc]:
    """AGENTS.md files from the git root down to ``cwd``, within ``max_bytes`` in total."""
    if max_bytes <= 0:
        return []
    root = find_git_root(cwd) or cwd
    chain = [cwd, *cwd.parents]
    directories = list(reversed(chain[: chain.index(root) + 1])) if root in chain else [cwd]
    docs: list[ProjectDoc] = []
    remaining = max_bytes
    for directory in directories:
        candidate = directory / PROJECT_DOC_NAME
        if remaining <= 0 or not candidate.is_file():
            continue
        try:
            raw = candidate.read_bytes()[:remaining]
        except OSError:
            continue
        text = raw.decode("utf-8", errors="ignore")
        if text.strip():
            docs.append(ProjectDoc(candidate, text))
            remaining -= len(raw)
    return docs


def user_instructions_text(cwd: Path, docs: list[ProjectDoc]) -> str | None:
    """The body recorded as ``turn_context.user_instructions`` (None without AGENTS.md)."""
    if not docs:
        return None
    return "\n\n".join(doc.text.rstrip("\n") for doc in docs)


def user_instructions_message(cwd: Path, instructions: str) -> dict[str, Any]:
    """The injected ``user`` message carrying AGENTS.md, in Codex's wrapper."""
    text = f"# AGENTS.md instructions for {cwd}\n\n<INSTRUCTIONS>\n{instructions}\n</INSTRUCTIONS>"
    return _message("user", text)


def developer_message(text: str) -> dict[str, Any]:
    return _message("developer", text)


class EnvironmentContext(msgspec.Struct, frozen=True):
    cwd: Path
    shell: str
    sandbox_mode: str
    approval_policy: str
    network_access: bool
    writable_roots: tuple[Path, ...] = ()

    def render(self, now: datetime | None = None) -> str:
        moment = (now or datetime.now()).astimezone()
        lines = [
            "<environment_context>",
            f"  <cwd>{_escape(str(self.cwd))}</cwd>",
            f"  <shell>{_escape(self.shell)}</shell>",
            f"  <current_date>{moment:%Y-%m-%d}</current_date>",
            f"  <timezone>{_escape(_timezone_name())}</timezone>",
            f"  <approval_policy>{self.approval_policy}</approval_policy>",
            f"  <sandbox_mode>{self.sandbox_mode}</sandbox_mode>",
            f"  <network_access>{'enabled' if self.network_access else 'restricted'}"
            "</network_access>",
        ]
        if self.writable_roots:
            lines.append("  <writable_roots>")
            lines.extend(f"    <root>{_escape(str(root))}</root>" for root in self.writable_roots)
            lines.append("  </writable_roots>")
        lines.append("</environment_context>")
        return "\n".join(lines)

    def message(self) -> dict[str, Any]:
        return _message("user", self.render())


def _timezone_name() -> str:
    configured = os.environ.get("TZ")
    if configured:
        return configured.lstrip(":")
    try:
        link = os.readlink("/etc/localtime")
    except OSError:
        return datetime.now().astimezone().tzname() or "UTC"
    marker = "zoneinfo/"
    return link.split(marker, 1)[1] if marker in link else link


def _message(role: str, text: str) -> dict[str, Any]:
    return {"type": "message", "role": role, "content": [{"type": "input_text", "text": text}]}


def _escape(text: str) -> str:
    """``&``, ``<`` and ``>`` as XML entities, as ``xml.sax.saxutils.escape`` writes them
    (without importing the ``xml.sax`` package at start-up)."""
    return text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
