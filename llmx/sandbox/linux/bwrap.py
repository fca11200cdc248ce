"""The bubblewrap backend: the plan rendered as a ``bwrap`` command line.

The argument order follows Codex's (spec 5.4): a read-only view of ``/`` (or a tmpfs with
read-only binds of the readable roots), a fresh ``/dev``, a writable bind per writable
root with read-only binds over its protected subpaths, masks for denied paths, then the
namespaces. The seccomp program is handed over as an fd (``--seccomp FD``), so no helper
process runs inside the sandbox: bwrap loads it right before it execs the command.
"""

from __future__ import annotations

import os

# Read roots Codex adds when reads are restricted (``:minimal``).
PLATFORM_READ_ROOTS = ("/bin", "/sbin", "/usr", "/etc", "/lib", "/lib64", "/nix/store",
                       "/run/current-system/sw")


def find_bwrap(cwd: str | None = None) -> str | None:
    """The first ``bwrap`` on PATH outside ``cwd`` (a workspace could plant its own)."""
    path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    for folder in path.split(os.pathsep):
        if not folder:
            continue
        candidate = os.path.join(folder, "bwrap")
        if cwd is not None and os.path.realpath(candidate).startswith(cwd.rstrip("/") + "/"):
            continue
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def build_argv(
    bwrap: str,
    *,
    command: list[str],
    cwd: str,
    readable_roots: tuple[str, ...] | None,
    writable_roots: tuple[str, ...],
    read_only_binds: tuple[str, ...],
    masked_missing: tuple[str, ...],
    denied_dirs: tuple[str, ...],
    denied_files: tuple[str, ...],
    restrict_network: bool,
    seccomp_fd: int,
    pinned: tuple[str, ...] = (),
) -> list[str]:
    args = [bwrap, "--new-session", "--die-with-parent"]
    if readable_roots is None or "/" in readable_roots:
        args += ["--ro-bind", "/", "/", "--dev", "/dev"]
    else:
        args += ["--tmpfs", "/", "--dev", "/dev"]
        for root in (*readable_roots, *PLATFORM_READ_ROOTS):
            if os.path.exists(root):
                args += ["--ro-bind", root, root]
    # Shallowest first: a bind (recursive) taken from the host's view would hide binds
    # made inside it before. Pinned folders are bound onto themselves so that they cannot
    # be renamed.
    for path in sorted((*writable_roots, *pinned), key=lambda p: p.count("/")):
        args += ["--bind", path, path]
    for path in sorted(read_only_binds, key=len):
        args += ["--ro-bind", path, path]
    for path in masked_missing:
        args += ["--perms", "555", "--tmpfs", path, "--remount-ro", path]
    for path in denied_dirs:
        args += ["--perms", "000", "--tmpfs", path, "--remount-ro", path]
    for path in denied_files:
        args += ["--ro-bind", "/dev/null", path]
    args += ["--unshare-user", "--unshare-pid", "--unshare-ipc"]
    if restrict_network:
        args.append("--unshare-net")
    # The fresh /proc is read-only as a whole, as the own backend's: /proc/sys and the
    # other knobs under it belong to the host's kernel, and the command may be uid 0 (when
    # the caller is root), whom their permissions let write them.
    args += ["--proc", "/proc", "--remount-ro", "/proc", "--cap-drop", "ALL",
             "--seccomp", str(seccomp_fd),
             "--chdir", cwd, "--", *command]
    return args
