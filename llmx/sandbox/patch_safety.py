"""Where an apply_patch would really write, and whether the turn's sandbox allows it.

apply_patch writes from the agent's own process, not from a confined child, so the
kernel cannot stop it: this check is the sandbox for it. A path named in a patch is first
resolved to its *target*, the place the bytes would land once every symbolic link on the
way is followed (a command may have planted ``link -> /outside`` or ``gitlink -> .git``);
the target, never the name, is checked against the plan, with the plan's roots and
carve-outs resolved the same way. The writer then reaches the target without following
any link (``no_follow``), so a link planted after the check fails the write instead of
redirecting it. The runtime decides from the refusals whether to apply, ask or reject
(``llmx.runtime.approvals.patch_verdict``); the approval request shows the targets.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from llmx.sandbox.plan import ConfinementPlan
from llmx.sandbox.plan_builder import normalize
from llmx.sandbox.protected import (
    PROTECTED_METADATA_NAMES,
    forbidden_metadata_write,
    symlink_components,
)
from llmx.sandbox.value import Value

OUTSIDE_ROOTS = "outside the writable roots"
DENIED = "denied by the sandbox policy"
NOT_READABLE = "not readable under the sandbox policy"


class PatchTarget(Value):
    """One path a patch touches: as named, and where the write would land."""

    __slots__ = ("named", "refusal", "target", "via")

    def __init__(
        self,
        named: Path,
        target: Path,
        via: Path | None,
        refusal: str | None = None,
    ) -> None:
        # Absolute and normalised, as the patch named it (relative names are cwd-relative).
        self.named = named
        # ``named`` with every symbolic link resolved (for a removal, all but the last name:
        # removing a link removes the link).
        self.target = target
        # The first component of ``named`` that is a symbolic link, if any.
        self.via = via
        # Why the sandbox would refuse the write; None when it is allowed.
        self.refusal = refusal

    def describe(self) -> str:
        """``TARGET (why; via LINK)``, for approval requests and refusals."""
        notes = [self.refusal] if self.refusal else []
        if self.via is not None:
            notes.append(f"via {self.via}")
        return f"{self.target} ({'; '.join(notes)})" if notes else str(self.target)


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _first_link(path: Path) -> Path | None:
    return next(symlink_components(path), None)


def patch_target(named: Path, *, removes_entry: bool = False) -> PatchTarget:
    """Resolve ``named`` (absolute) to where a write, or a removal, would land."""
    named = normalize(named)
    if removes_entry:
        target = _real(named.parent) / named.name
        via = _first_link(named.parent)
    else:
        target = _real(named)
        via = _first_link(named)
    return PatchTarget(named, target, via)


def _within(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


def write_refusal(target: Path, plan: ConfinementPlan) -> str | None:
    """Why the plan refuses a write to ``target`` (symlink-free), or None if it allows it."""
    if plan.unconfined:
        return None
    for denied in plan.denied_paths:
        if _within(target, _real(denied)):
            return DENIED
    roots = [_real(root.path) for root in plan.writable_roots]
    for root in plan.writable_roots:
        for sub in root.read_only_subpaths:
            if _within(target, _real(sub)):
                name = sub.name if sub.name in PROTECTED_METADATA_NAMES else None
                return f"protected {name}" if name else f"read-only {sub}"
    full_disk = any(r.path == Path("/") and not r.read_only_subpaths for r in plan.writable_roots)
    name = forbidden_metadata_write(target, roots)
    if name is not None and not full_disk:
        return f"protected {name}"
    if any(_within(target, root) for root in roots):
        return None
    return OUTSIDE_ROOTS


def read_refusal(target: Path, plan: ConfinementPlan) -> str | None:
    """Why the plan refuses reading ``target`` (symlink-free), or None if it allows it."""
    if plan.unconfined:
        return None
    if any(_within(target, _real(denied)) for denied in plan.denied_paths):
        return DENIED
    readable = plan.readable_roots
    if readable is not None and not any(
        _within(target, _real(root))
        for root in (*readable, *(w.path for w in plan.writable_roots))
    ):
        return NOT_READABLE
    return None


def check_targets(targets: Iterable[PatchTarget], plan: ConfinementPlan) -> list[PatchTarget]:
    """``targets`` with their refusals filled in, in order."""
    return [
        PatchTarget(t.named, t.target, t.via, write_refusal(t.target, plan)) for t in targets
    ]
