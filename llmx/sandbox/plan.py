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

from llmx.sandbox.value import Value


class NetworkAccess(enum.Enum):
    """Whether a confined command may open network sockets."""

    # Only AF_UNIX sockets; every other family is refused by seccomp.
    RESTRICTED = "restricted"
    # No network restriction at all.
    ENABLED = "enabled"


class WritableRoot(Value):
    """A directory the command may write, with the parts of it that stay read-only."""

    __slots__ = ("path", "read_only_subpaths")

    def __init__(self, path: Path, read_only_subpaths: tuple[Path, ...] = ()) -> None:
        self.path = path
        # Absolute paths under ``path`` (``.git``, ``.agents``, ``.codex``, a gitdir target...)
        # that must stay read-only even though ``path`` is writable. A listed path that does
        # not exist must be kept from being created.
        self.read_only_subpaths = read_only_subpaths


class ConfinementPlan(Value):
    """Everything a backend needs to confine one command; all paths are absolute."""

    __slots__ = ("denied_paths", "env", "network", "readable_roots", "unconfined", "writable_roots")

    def __init__(
        self,
        unconfined: bool = False,
        readable_roots: tuple[Path, ...] | None = None,
        writable_roots: tuple[WritableRoot, ...] = (),
        denied_paths: tuple[Path, ...] = (),
        network: NetworkAccess = NetworkAccess.RESTRICTED,
        env: dict[str, str] | None = None,
    ) -> None:
        # True for ``danger-full-access`` and ``external-sandbox``: the command runs as is.
        self.unconfined = unconfined
        # Directories the command may read; ``None`` means the whole filesystem.
        self.readable_roots = readable_roots
        self.writable_roots = writable_roots
        # Paths that may be neither read nor written (permission-profile ``deny`` entries,
        # already expanded from globs to concrete paths).
        self.denied_paths = denied_paths
        self.network = network
        # Environment variables the child receives (already filtered by the environment policy).
        self.env = {} if env is None else env
