"""The confinement plan: what the kernel must enforce for one command.

A plan is the meeting point of the two halves of the sandbox package. Policies and
permission profiles (the user's vocabulary, Codex's JSON) resolve *to* a plan; the Linux
backends and the Seatbelt generator enforce *from* a plan. Keeping this type small and
concrete (absolute paths, no globs left unexpanded, no symbolic roots) means a backend
never has to understand policy, and a policy never has to know about mounts.
"""

from __future__ import annotations

import enum
from pathlib import Path

from llmx.sandbox.records import field, record


class NetworkAccess(enum.Enum):
    """Whether a confined command may open network sockets."""

    # Only AF_UNIX sockets; every other family is refused by seccomp.
    RESTRICTED = "restricted"
    # No network restriction at all.
    ENABLED = "enabled"


@record
class WritableRoot:
    """A directory the command may write, with the parts of it that stay read-only."""

    path: Path
    # Absolute paths under ``path`` (``.git``, ``.agents``, ``.codex``, a gitdir target...)
    # that must stay read-only even though ``path`` is writable. A listed path that does
    # not exist must be kept from being created.
    read_only_subpaths: tuple[Path, ...] = ()


@record
class ConfinementPlan:
    """Everything a backend needs to confine one command; all paths are absolute."""

    # True for ``danger-full-access`` and ``external-sandbox``: the command runs as is.
    unconfined: bool = False
    # Directories the command may read; ``None`` means the whole filesystem.
    readable_roots: tuple[Path, ...] | None = None
    writable_roots: tuple[WritableRoot, ...] = ()
    # Paths that may be neither read nor written (permission-profile ``deny`` entries,
    # already expanded from globs to concrete paths).
    denied_paths: tuple[Path, ...] = ()
    network: NetworkAccess = NetworkAccess.RESTRICTED
    # Environment variables the child receives (already filtered by the environment policy).
    env: dict[str, str] = field(default_factory=dict)
