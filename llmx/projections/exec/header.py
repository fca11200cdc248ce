"""The configuration block ``exec`` prints before each prompt, rebuilt from the log.

Everything comes from ``session_meta`` and the turn's ``turn_context``: the working
directory, model, provider, approval policy, a one-line sandbox summary and the session id;
the title names the program that ran the turn.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET

from llmx.events.records import SessionMeta, TurnContext
from llmx.projections.exec.items import SessionHeader
from llmx.projections.turn_programs import Program

_TMP_LABELS = {"slash_tmp": "/tmp", "tmpdir": "$TMPDIR"}


def _text(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def build_header(
    meta: SessionMeta | None, context: TurnContext | None, program: Program
) -> SessionHeader:
    """The header for a turn: ``meta`` is the canonical ``session_meta``, ``context`` the
    latest ``turn_context`` (either may be missing in very old rollouts), ``program`` the
    one that ran the turn (see ``llmx.projections.turn_programs``)."""
    cwd = (context.cwd if context else "") or (meta.cwd if meta else "")
    model = (context.model if context else "") or "unknown"
    effort = context.reasoning_effort() if context else None
    provider = meta.model_provider if meta else None
    thread_id = (meta.id or _text(meta.session_id)) if meta else ""
    entries = [
        ("workdir", cwd),
        ("model", model),
        ("provider", "openai" if provider is None else provider),
        ("approval", _text(context.approval_policy if context else None, "on-request")),
        ("sandbox", summarize_sandbox(context, cwd)),
        ("reasoning effort", "none" if effort is None else effort),
        ("reasoning summaries", _text(context.summary if context else None, "none")),
        ("session id", thread_id),
    ]
    return SessionHeader(title=program.title, entries=entries)


def summarize_sandbox(context: TurnContext | None, cwd: str) -> str:
    """``read-only``, ``workspace-write [workdir, /tmp, $TMPDIR]``, ``danger-full-access``..."""
    profile = context.permission_profile if context else UNSET
    if isinstance(profile, dict):
        return _from_profile(profile, cwd)
    policy = context.sandbox_policy if context else None
    if isinstance(policy, dict):
        return _from_policy(policy, cwd)
    if isinstance(policy, str):
        return policy
    return "read-only"


def _with_network(summary: str, enabled: bool) -> str:
    return f"{summary} (network access enabled)" if enabled else summary


def _from_profile(profile: dict[str, Any], cwd: str) -> str:
    kind = profile.get("type")
    network = profile.get("network") == "enabled"
    if kind == "disabled":
        return "danger-full-access"
    if kind == "external":
        return _with_network("external-sandbox", network)
    file_system = profile.get("file_system")
    if not isinstance(file_system, dict) or file_system.get("type") == "unrestricted":
        return _with_network("workspace-write [/]", network)
    labels: list[str] = []
    for entry in file_system.get("entries") or []:
        if not isinstance(entry, dict) or entry.get("access") != "write":
            continue
        path = entry.get("path")
        if not isinstance(path, dict):
            continue
        if path.get("type") == "special":
            value = path.get("value")
            special = value.get("kind") if isinstance(value, dict) else None
            if special == "root":
                return _with_network("workspace-write [/]", network)
            labels.append(_TMP_LABELS.get(str(special), str(special)))
        else:
            labels.append(_root_label(_text(path.get("path")), cwd))
    if not labels:
        return _with_network("read-only", network)
    return _with_network(f"workspace-write [{', '.join(labels)}]", network)


def _from_policy(policy: dict[str, Any], cwd: str) -> str:
    kind = policy.get("type")
    if kind == "danger-full-access":
        return "danger-full-access"
    if kind == "external-sandbox":
        return _with_network("external-sandbox", policy.get("network_access") == "enabled")
    network = policy.get("network_access") is True
    if kind != "workspace-write":
        return _with_network("read-only", network)
    labels = [_root_label(_text(root), cwd) for root in policy.get("writable_roots") or []]
    if "workdir" not in labels:
        labels.insert(0, "workdir")
    if not policy.get("exclude_slash_tmp"):
        labels.append("/tmp")
    if not policy.get("exclude_tmpdir_env_var"):
        labels.append("$TMPDIR")
    return _with_network(f"workspace-write [{', '.join(labels)}]", network)


def _root_label(root: str, cwd: str) -> str:
    if root.rstrip("/") == cwd.rstrip("/"):
        return "workdir"
    if root.rstrip("/") == "/tmp":
        return "/tmp"
    return root
