"""The own backend: user + mount namespace set up in the forked child, before exec.

No helper process and no second interpreter: the child of ``fork`` is single-threaded, so
it may ``unshare(CLONE_NEWUSER)``; it then rebuilds its view of the filesystem (a fresh
``/dev``, writable binds for the writable roots, read-only binds over protected paths,
everything else remounted read-only), enters Landlock, drops every capability and loads
the seccomp filter. Everything that can be computed is computed in the parent
(``ChildSetup``); the child only performs system calls.
"""

from __future__ import annotations

import contextlib
import os

from llmx.sandbox.linux import kernel, landlock, pidns, seccomp
from llmx.sandbox.records import record

_DEVICE_NODES = ("null", "zero", "full", "random", "urandom", "tty")
_DEV_LINKS = (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
              ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"))

# mountinfo option -> mount flag that a bind remount must repeat (the kernel refuses a
# remount in a user namespace that would clear a flag locked by the parent namespace).
_KEPT_FLAGS = {
    "nosuid": kernel.MS_NOSUID, "nodev": kernel.MS_NODEV, "noexec": kernel.MS_NOEXEC,
    "noatime": kernel.MS_NOATIME, "nodiratime": kernel.MS_NODIRATIME,
    "relatime": kernel.MS_RELATIME, "strictatime": kernel.MS_STRICTATIME,
}


@record
class ChildSetup:
    """Everything the child does between fork and exec, decided by the parent."""

    uid: int
    gid: int
    cwd: str
    namespaces: bool
    restrict_network: bool
    writable_roots: tuple[str, ...]
    # Existing paths under a writable root that are bound read-only.
    read_only_binds: tuple[str, ...]
    # Missing paths under a writable root whose creation is blocked by an empty
    # read-only tmpfs mounted on a directory created for the purpose.
    masked_missing: tuple[str, ...]
    denied_dirs: tuple[str, ...]
    denied_files: tuple[str, ...]
    landlock_rules: landlock.LandlockRules | None
    seccomp_program: bytes
    last_cap: int
    error_fd: int
    # True on the exec path: the waiter is the process the user started, so it relays the
    # signals sent to it to the command (see ``pidns.split``).
    relay_signals: bool = False


def run_in_child(setup: ChildSetup) -> None:
    """The ``preexec_fn``: on failure, report on ``error_fd`` and never reach exec."""
    step = "start"
    try:
        kernel.prctl(kernel.PR_SET_PDEATHSIG, 9)
        if setup.namespaces:
            step = "user namespace"
            _enter_namespaces(setup)
            step = "mounts"
            _build_mounts(setup)
            step = "pid namespace"
            pidns.split(relay=setup.relay_signals, last_cap=setup.last_cap)
        os.chdir(setup.cwd)
        step = "no_new_privs"
        kernel.set_no_new_privs()
        if setup.landlock_rules is not None:
            step = "landlock"
            landlock.apply(setup.landlock_rules)
        if setup.namespaces:
            step = "capabilities"
            kernel.drop_all_capabilities(setup.last_cap)
        step = "seccomp"
        seccomp.install_filter(setup.seccomp_program)
        os.set_inheritable(setup.error_fd, False)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.write(setup.error_fd, f"{step}: {exc}".encode(errors="replace"))
        os._exit(126)


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _enter_namespaces(setup: ChildSetup) -> None:
    flags = kernel.CLONE_NEWUSER | kernel.CLONE_NEWNS | kernel.CLONE_NEWIPC | kernel.CLONE_NEWPID
    if setup.restrict_network:
        flags |= kernel.CLONE_NEWNET
    kernel.unshare(flags)
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{setup.uid} {setup.uid} 1")
    _write("/proc/self/gid_map", f"{setup.gid} {setup.gid} 1")


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) + 0 and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _mounts() -> list[tuple[str, int]]:
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        lines = f.read().splitlines()
    found = []
    for line in lines:
        parts = line.split(" ")
        flags = 0
        for option in parts[5].split(","):
            flags |= _KEPT_FLAGS.get(option, 0)
        found.append((_unescape(parts[4]), flags))
    return found


def _fresh_dev() -> None:
    host = {name: os.open(f"/dev/{name}", os.O_PATH) for name in _DEVICE_NODES
            if os.path.exists(f"/dev/{name}")}
    kernel.mount("tmpfs", "/dev", "tmpfs", kernel.MS_NOSUID | kernel.MS_NOEXEC, "mode=755")
    for name, fd in host.items():
        os.close(os.open(f"/dev/{name}", os.O_CREAT | os.O_WRONLY, 0o666))
        kernel.mount(f"/proc/self/fd/{fd}", f"/dev/{name}", None, kernel.MS_BIND)
        os.close(fd)
    os.mkdir("/dev/shm", 0o1777)
    kernel.mount("tmpfs", "/dev/shm", "tmpfs", kernel.MS_NOSUID | kernel.MS_NODEV, "mode=1777")
    os.mkdir("/dev/pts", 0o755)
    # Without a devpts instance there are no pseudo-terminals inside; commands still run.
    with contextlib.suppress(OSError):
        kernel.mount("devpts", "/dev/pts", "devpts", kernel.MS_NOSUID | kernel.MS_NOEXEC,
                     "newinstance,ptmxmode=0666,mode=620")
    for name, target in _DEV_LINKS:
        os.symlink(target, f"/dev/{name}")


def _build_mounts(setup: ChildSetup) -> None:
    kernel.mount(None, "/", None, kernel.MS_REC | kernel.MS_PRIVATE)
    _fresh_dev()
    for root in setup.writable_roots:
        kernel.mount(root, root, None, kernel.MS_BIND | kernel.MS_REC)
    for path in setup.read_only_binds:
        kernel.mount(path, path, None, kernel.MS_BIND | kernel.MS_REC)
        kernel.mount(None, path, None, kernel.MS_REMOUNT | kernel.MS_BIND | kernel.MS_RDONLY)
    for path in setup.masked_missing:
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o555)
        kernel.mount("tmpfs", path, "tmpfs", kernel.MS_RDONLY | kernel.MS_NOSUID, "mode=555")
    for path in setup.denied_dirs:
        kernel.mount("tmpfs", path, "tmpfs", kernel.MS_RDONLY | kernel.MS_NOSUID, "mode=000")
    for path in setup.denied_files:
        kernel.mount("/dev/null", path, None, kernel.MS_BIND)
        kernel.mount(None, path, None, kernel.MS_REMOUNT | kernel.MS_BIND | kernel.MS_RDONLY)
    keep_writable = (*setup.writable_roots, "/dev")
    for target, flags in _mounts():
        if _under(target, keep_writable):
            continue
        try:
            kernel.mount(None, target, None,
                         kernel.MS_REMOUNT | kernel.MS_BIND | kernel.MS_RDONLY | flags)
        except FileNotFoundError:
            continue  # a mount point hidden by a later mount: unreachable anyway
    # The fresh /dev itself is read-only; only its device nodes and /dev/shm take writes.
    kernel.mount(None, "/dev", None,
                 kernel.MS_REMOUNT | kernel.MS_BIND | kernel.MS_RDONLY | kernel.MS_NOSUID
                 | kernel.MS_NOEXEC)
