"""Which kernel mechanisms this machine offers, and which backend enforces a plan.

Probes are cheap and cached per process. A backend that cannot enforce every part of a
plan is never chosen for it: the caller gets ``UnenforceablePlan`` naming each backend and
why it was passed over, and the command does not run.
"""

from __future__ import annotations

import enum
import os

from llmx.sandbox.failure import SandboxFailure
from llmx.sandbox.linux import bwrap, kernel, landlock
from llmx.sandbox.plan import ConfinementPlan
from llmx.sandbox.value import Value


class BackendKind(enum.Enum):
    """A way of confining a command on Linux, in order of preference."""

    # Own user + mount namespace set up in the forked child, then Landlock and seccomp.
    NAMESPACES = "namespaces"
    # bubblewrap's namespaces, with llmx's seccomp program passed as an fd.
    BWRAP = "bubblewrap"
    # Landlock and seccomp only (no namespaces), like Codex's legacy Landlock: cannot keep
    # `.git` read-only inside a writable root, Landlock does not govern metadata (chmod,
    # chown, utimes) outside the writable roots, and without a PID namespace the user's
    # other processes' /proc/<pid>/environ stays readable. Never chosen automatically; only
    # when asked for by name, and then only for plans without read-only subpaths.
    LANDLOCK = "landlock"


class BackendStatus(Value):
    __slots__ = ("available", "kind", "reason")

    def __init__(self, kind: BackendKind, available: bool, reason: str) -> None:
        self.kind = kind
        self.available = available
        self.reason = reason


class BackendChoice(Value):
    """The chosen backend and what was found about every backend (for ``--explain``)."""

    __slots__ = ("kind", "statuses")

    def __init__(self, kind: BackendKind, statuses: tuple[BackendStatus, ...]) -> None:
        self.kind = kind
        self.statuses = statuses


class UnenforceablePlan(SandboxFailure, RuntimeError):
    """No backend on this machine can enforce the plan; the command must not run."""


_cache: dict[BackendKind, BackendStatus] = {}
_userns_ok: tuple[bool, str] | None = None


def seccomp_status() -> tuple[bool, str]:
    if not kernel.supported_machine():
        return False, f"seccomp filter not built for {kernel.MACHINE}"
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            if "Seccomp:" not in f.read():
                return False, "kernel built without seccomp"
    except OSError as exc:
        return False, f"cannot read /proc/self/status: {exc.strerror}"
    return True, "seccomp filter available"


def _userns_status() -> tuple[bool, str]:
    global _userns_ok
    if _userns_ok is None:
        code = kernel.clone_probe(kernel.CLONE_NEWUSER | kernel.CLONE_NEWNS)
        if code == 0:
            _userns_ok = (True, "unprivileged user and mount namespaces work")
        else:
            _userns_ok = (False, "cannot create a user namespace "
                          f"({os.strerror(code)}); check kernel.unprivileged_userns_clone, "
                          "user.max_user_namespaces and AppArmor's userns restriction")
    return _userns_ok


def _probe(kind: BackendKind) -> BackendStatus:
    ok, why = seccomp_status()
    if not ok:
        return BackendStatus(kind, False, why)
    if kind is BackendKind.LANDLOCK:
        abi = landlock.abi_version()
        if abi == 0:
            return BackendStatus(kind, False, "Landlock is not enabled in this kernel")
        if os.geteuid() == 0:
            # Capabilities are dropped, but ownership stays: root owns the system's files,
            # and an owner may change a file's mode, ACLs and times, which Landlock does
            # not govern (chmod u+s on a system binary). Codex refuses this backend too.
            return BackendStatus(kind, False, "refused as root: Landlock does not govern "
                                 "file modes, and root owns every system file (use the "
                                 "namespaces or bubblewrap backend)")
        return BackendStatus(kind, True, f"Landlock ABI {abi} + seccomp, no namespaces (only "
                             "on request: chmod outside writable roots and other processes' "
                             "/proc/<pid>/environ not stopped)")
    if kind is BackendKind.NAMESPACES:
        ok, why = _userns_status()
        if not ok:
            return BackendStatus(kind, False, why)
        abi = landlock.abi_version()
        fence = f"Landlock ABI {abi}" if abi else "no Landlock (mount namespace only)"
        return BackendStatus(kind, True, f"user+mount namespaces, {fence}, seccomp")
    path = bwrap.find_bwrap()
    if path is None:
        return BackendStatus(kind, False, "bwrap not found on PATH (install bubblewrap)")
    ok, why = _userns_status()
    if not ok:
        return BackendStatus(kind, False, why)
    return BackendStatus(kind, True, f"{path} + seccomp (--seccomp fd)")


def backend_status(kind: BackendKind) -> BackendStatus:
    if kind not in _cache:
        _cache[kind] = _probe(kind)
    return _cache[kind]


def probe_backends() -> tuple[BackendStatus, ...]:
    """Every backend with whether this machine offers it and why (probes all of them)."""
    return tuple(backend_status(kind) for kind in BackendKind)


def plan_obstacle(kind: BackendKind, plan: ConfinementPlan) -> str | None:
    """Why ``kind`` cannot enforce ``plan`` (None when it can)."""
    if kind is BackendKind.LANDLOCK:
        if any(root.read_only_subpaths for root in plan.writable_roots):
            return "Landlock cannot keep read-only subpaths (.git, .codex...) of a writable root"
        if plan.denied_paths:
            return "Landlock cannot deny paths inside readable roots"
    if kind is BackendKind.NAMESPACES and plan.readable_roots is not None \
            and landlock.abi_version() == 0:
        return "restricted reads need Landlock, which this kernel lacks"
    return None


def choose_backend(plan: ConfinementPlan, preferred: BackendKind | None = None) -> BackendChoice:
    """The first available backend able to enforce ``plan``; ``preferred`` is tried first."""
    order = [BackendKind.NAMESPACES, BackendKind.BWRAP]
    if preferred is not None:
        order = [preferred]
    statuses: list[BackendStatus] = []
    chosen: BackendKind | None = None
    for kind in order:
        status = backend_status(kind)
        obstacle = plan_obstacle(kind, plan) if status.available else None
        if obstacle is not None:
            status = BackendStatus(kind, False, obstacle)
        statuses.append(status)
        if status.available and chosen is None:
            chosen = kind
            break
    if chosen is None:
        details = "; ".join(f"{s.kind.value}: {s.reason}" for s in statuses)
        if preferred is not None:
            raise UnenforceablePlan(f"cannot enforce the sandbox with the {preferred.value} "
                                    f"backend ({details})",
                                    "choose another --backend, or leave the choice to llmx")
        raise UnenforceablePlan(f"cannot enforce the sandbox on this machine ({details})",
                                "install bubblewrap or enable user namespaces, or run "
                                "with an explicit danger-full-access policy")
    for kind in BackendKind:
        if kind not in {s.kind for s in statuses}:
            statuses.append(backend_status(kind) if kind in _cache else
                            BackendStatus(kind, False, "not probed (an earlier backend fits)"))
    return BackendChoice(chosen, tuple(statuses))


def explain(plan: ConfinementPlan, preferred: BackendKind | None = None) -> BackendChoice:
    """For ``llmx sandbox --explain``: the chosen backend (``preferred`` only, when given)
    plus a probed status for each."""
    probe_backends()
    choice = choose_backend(plan, preferred)
    statuses = []
    for kind in BackendKind:
        status = backend_status(kind)
        obstacle = plan_obstacle(kind, plan) if status.available else None
        statuses.append(BackendStatus(kind, False, obstacle) if obstacle else status)
    return BackendChoice(choice.kind, tuple(statuses))
