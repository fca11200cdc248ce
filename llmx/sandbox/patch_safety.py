"""Whether an apply_patch may write where it wants to, under the turn's sandbox.

apply_patch writes files from the agent's own process, not from a confined child, so the
kernel cannot stop it: this check is the sandbox for it. The runtime asks
``assess_patch`` and acts on the answer (apply, ask the user, or reject to the model).
Codex's rules (``safety.rs``):

1. an empty patch is rejected;
2. under ``untrusted`` every patch is asked about;
3. every touched path (both ends of a move) is resolved against the cwd, normalised, and
   must be writable under the plan (read-only carve-outs and deny entries respected, and
   never inside protected metadata);
4. all writable (or policy ``on-failure``): apply without asking; unconfined profiles
   apply directly, confined ones inside the sandbox;
5. otherwise ask the user, or reject under ``never`` (the reject text says why).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from llmx.sandbox.plan import ConfinementPlan
from llmx.sandbox.plan_builder import normalize
from llmx.sandbox.protected import forbidden_metadata_write

REJECT_OUTSIDE_PROJECT = "writing outside of the project; rejected by user approval settings"
REJECT_READ_ONLY = "writing is blocked by read-only sandbox; rejected by user approval settings"


class PatchDecision(enum.Enum):
    # Apply without asking, with no sandbox around the writer.
    AUTO_APPROVE_UNSANDBOXED = "auto_approve_unsandboxed"
    # Apply without asking, inside the turn's sandbox.
    AUTO_APPROVE_SANDBOXED = "auto_approve_sandboxed"
    ASK_USER = "ask_user"
    REJECT = "reject"


@dataclass(frozen=True)
class PatchAssessment:
    decision: PatchDecision
    # For REJECT: the text returned to the model. For ASK_USER: the paths that are not writable.
    reason: str | None = None
    unwritable: tuple[Path, ...] = ()


def is_path_writable(path: Path, plan: ConfinementPlan) -> bool:
    """``path`` (absolute, normalised) lies in a writable root, outside its carve-outs."""
    if plan.unconfined:
        return True
    roots = [r.path for r in plan.writable_roots]
    if forbidden_metadata_write(path, roots) is not None and not any(
        root.path == Path("/") and not root.read_only_subpaths for root in plan.writable_roots
    ):
        return False
    for denied in plan.denied_paths:
        if path == denied or denied in path.parents:
            return False
    for root in plan.writable_roots:
        if path != root.path and root.path not in path.parents:
            continue
        if any(path == sub or sub in path.parents for sub in root.read_only_subpaths):
            continue
        return True
    return False


def assess_patch(
    touched: Sequence[str | Path],
    *,
    cwd: Path,
    plan: ConfinementPlan,
    approval_policy: str,
    platform_sandbox_available: bool = True,
) -> PatchAssessment:
    """Decide about a patch touching ``touched`` paths (relative ones are cwd-relative).

    ``approval_policy`` is the kebab-case ``AskForApproval`` value (``untrusted``,
    ``on-failure``, ``on-request``, ``never``).
    """
    if not touched:
        return PatchAssessment(PatchDecision.REJECT, "empty patch")
    if approval_policy == "untrusted":
        return PatchAssessment(PatchDecision.ASK_USER)
    resolved = [normalize(cwd / Path(p)) for p in touched]
    unwritable = tuple(p for p in resolved if not is_path_writable(p, plan))
    if not unwritable or approval_policy == "on-failure":
        if plan.unconfined:
            return PatchAssessment(PatchDecision.AUTO_APPROVE_UNSANDBOXED)
        if platform_sandbox_available:
            return PatchAssessment(PatchDecision.AUTO_APPROVE_SANDBOXED)
        if approval_policy == "never":
            return PatchAssessment(PatchDecision.REJECT, REJECT_OUTSIDE_PROJECT)
        return PatchAssessment(PatchDecision.ASK_USER)
    if approval_policy == "never":
        reason = REJECT_READ_ONLY if not plan.writable_roots else REJECT_OUTSIDE_PROJECT
        return PatchAssessment(PatchDecision.REJECT, reason, unwritable)
    return PatchAssessment(PatchDecision.ASK_USER, None, unwritable)
