"""``llmx sandbox explain``: the resolved sandbox in words a person can check.

Secrets never reach this text: environment values are not printed, only which variables
the command receives and which the policy dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from llmx.sandbox.deny_coverage import NOT_COVERED, git_copies
from llmx.sandbox.plan import NetworkAccess
from llmx.sandbox.policy import encode_policy
from llmx.sandbox.profiles import encode_profile
from llmx.sandbox.resolve import ResolvedSandbox


def explain_lines(
    resolved: ResolvedSandbox,
    *,
    parent_env: Mapping[str, str],
    backend_lines: Sequence[str] = (),
) -> list[str]:
    plan = resolved.plan
    lines = [f"cwd: {resolved.cwd}"]
    lines.append("decided by: " + "; ".join(resolved.reasons))
    lines.append(f"sandbox policy: {encode_policy(resolved.policy)}")
    if resolved.profile_id is not None:
        lines.append(f"permission profile: {resolved.profile_id}")
    lines.append(f"permission profile json: {encode_profile(resolved.profile)}")
    if plan.unconfined:
        lines.append("confinement: none (the command runs as a plain child process)")
    else:
        if plan.readable_roots is None:
            lines.append("readable: the whole filesystem")
        else:
            lines.append("readable: " + (", ".join(map(str, plan.readable_roots)) or "nothing"))
        if not plan.writable_roots:
            lines.append("writable: nothing (except /dev/null)")
        for root in plan.writable_roots:
            lines.append(f"writable: {root.path}")
            for sub in root.read_only_subpaths:
                notes = [resolved.protected_homes[sub]] if sub in resolved.protected_homes else []
                if not sub.exists():
                    notes.append("missing; kept from being created")
                state = f" ({'; '.join(notes)})" if notes else ""
                lines.append(f"  read-only: {sub}{state}")
        copies = git_copies(plan.denied_paths) if plan.denied_paths else {}
        for denied in plan.denied_paths:
            note = f" ({copies[denied]})" if denied in copies else ""
            lines.append(f"denied: {denied}{note}")
        globs = resolved.resolved_fs.deny_globs if resolved.resolved_fs is not None else ()
        lines.extend(f"denied glob: {p}" for p in globs)
        if plan.denied_paths or globs:
            lines.append(f"not covered: {NOT_COVERED}")
    network = (
        "enabled"
        if plan.network is NetworkAccess.ENABLED
        else "restricted (no sockets but AF_UNIX)"
    )
    lines.append(f"network: {network}")
    kept = sorted(plan.env)
    dropped = sorted(set(parent_env) - set(plan.env))
    lines.append(f"env: {len(kept)} variables passed: {' '.join(kept)}")
    if dropped:
        lines.append(f"env dropped: {' '.join(dropped)}")
    lines.extend(backend_lines)
    lines.extend(f"warning: {w}" for w in resolved.warnings)
    return lines
