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
import errno
import os
from collections.abc import Callable

from llmx.sandbox.linux import exec_report, kernel, landlock, pidns, seccomp
from llmx.sandbox.value import Value

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


class ChildSetup(Value):
    """Everything the child does between fork and exec, decided by the parent."""

    __slots__ = (
        "after_exit",
        "argv",
        "cwd",
        "denied_dirs",
        "denied_files",
        "env",
        "error_fd",
        "gid",
        "landlock_abi",
        "landlock_own_writable",
        "landlock_ruleset",
        "last_cap",
        "masked_missing",
        "namespaces",
        "pinned",
        "read_only_binds",
        "read_only_remounts",
        "relay_signals",
        "restrict_network",
        "seccomp_program",
        "status_fd",
        "uid",
        "waiter_fds",
        "writable_roots",
    )

    def __init__(
        self,
        uid: int,
        gid: int,
        cwd: str,
        namespaces: bool,
        restrict_network: bool,
        writable_roots: tuple[str, ...],
        read_only_binds: tuple[str, ...],
        masked_missing: tuple[str, ...],
        denied_dirs: tuple[str, ...],
        denied_files: tuple[str, ...],
        pinned: tuple[str, ...],
        read_only_remounts: tuple[tuple[str, int], ...],
        landlock_ruleset: int | None,
        landlock_abi: int,
        landlock_own_writable: tuple[str, ...],
        seccomp_program: bytes,
        last_cap: int,
        error_fd: int,
        argv: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        relay_signals: bool = False,
        waiter_fds: tuple[int, ...] = (),
        after_exit: Callable[[], None] | None = None,
        status_fd: int | None = None,
    ) -> None:
        self.uid = uid
        self.gid = gid
        self.cwd = cwd
        self.namespaces = namespaces
        self.restrict_network = restrict_network
        self.writable_roots = writable_roots
        # Existing paths under a writable root that are bound read-only.
        self.read_only_binds = read_only_binds
        # Empty directories under a writable root (made for the purpose, see ``mask_targets``)
        # on which an empty read-only tmpfs is mounted, so a missing protected name cannot be
        # created.
        self.masked_missing = masked_missing
        self.denied_dirs = denied_dirs
        self.denied_files = denied_files
        # Folders under a writable root bound onto themselves, so that they cannot be renamed
        # (``prepare._pinned``).
        self.pinned = pinned
        # Every other mount (``read_only_remounts``), remounted read-only.
        self.read_only_remounts = read_only_remounts
        # A Landlock ruleset built by the parent (``O_CLOEXEC``; closed once entered), the
        # ABI it was made for, and the writable paths the child adds because they only exist
        # in its mount namespace (the fresh ``/dev``'s ``pts`` and ``shm``).
        self.landlock_ruleset = landlock_ruleset
        self.landlock_abi = landlock_abi
        self.landlock_own_writable = landlock_own_writable
        self.seccomp_program = seccomp_program
        self.last_cap = last_cap
        self.error_fd = error_fd
        # The command, started by the init of the PID namespace (own backend only; otherwise
        # the caller execs it after ``run_in_child`` returns).
        self.argv = argv
        self.env = {} if env is None else env
        # True on the exec path: the waiter is the process the user started, so it relays the
        # signals sent to it to the command and cleans up after it (see ``pidns.split``).
        self.relay_signals = relay_signals
        self.waiter_fds = waiter_fds
        self.after_exit = after_exit
        # Write end of the pipe on which the init reports the command's exit code once the
        # namespace holds nothing else (``pidns.split``); ``None`` on the blocking paths.
        self.status_fd = status_fd


class _StepFailed(Exception):
    def __init__(self, step: str, cause: BaseException) -> None:
        super().__init__(step, cause)
        self.step = step
        self.cause = cause


def _report(setup: ChildSetup, step: str, exc: BaseException) -> None:
    if isinstance(exc, _StepFailed):
        step, exc = exc.step, exc.cause
    with contextlib.suppress(OSError):
        if exec_report.on_exec_path:
            # ``error_fd`` is stderr there: the line stands on its own.
            os.write(setup.error_fd, exec_report.setup_failed(f"{step}: {exc}"))
        else:
            os.write(setup.error_fd, f"{step}: {exc}".encode(errors="replace"))


def run_in_child(setup: ChildSetup) -> None:
    """The ``preexec_fn``: on failure, report on ``error_fd`` and never reach exec.

    With namespaces it never returns: the process becomes the waiter, and the command is
    started by the init of the new PID namespace.
    """
    step = "start"
    try:
        kernel.prctl(kernel.PR_SET_PDEATHSIG, 9)
        if setup.namespaces:
            step = "user namespace"
            _enter_namespaces(setup)
            step = "mounts"
            _build_mounts(setup)
            step = "pid namespace"
            pidns.split(relay=setup.relay_signals, confine=lambda: _confine(setup),
                        argv=setup.argv, env=setup.env,
                        report=lambda where, exc: _report(setup, where, exc),
                        init_fds=_init_fds(setup), keep_fds=setup.waiter_fds,
                        after_exit=setup.after_exit, status_fd=setup.status_fd)
        _confine(setup)
    except BaseException as exc:
        _report(setup, step, exc)
        if setup.after_exit is not None:
            with contextlib.suppress(BaseException):
                setup.after_exit()
        os._exit(126)


def run_as_init(setup: ChildSetup) -> None:
    """What a child cloned into ``namespace_flags(setup)`` runs: it is the init itself
    (``pidns.become_init``); never returns, exits 126 after reporting a failed step."""
    step = "start"
    try:
        kernel.prctl(kernel.PR_SET_PDEATHSIG, 9)
        step = "user namespace"
        _map_ids(setup)
        step = "mounts"
        _build_mounts(setup)
        step = "pid namespace"
        pidns.become_init(confine=lambda: _confine(setup), argv=setup.argv, env=setup.env,
                          report=lambda where, exc: _report(setup, where, exc),
                          init_fds=_init_fds(setup), status_fd=setup.status_fd)
    except BaseException as exc:
        _report(setup, step, exc)
    os._exit(126)


def _init_fds(setup: ChildSetup) -> tuple[int, ...]:
    extra = (setup.landlock_ruleset, setup.status_fd)
    return (setup.error_fd, *(fd for fd in extra if fd is not None))


def _confine(setup: ChildSetup) -> None:
    """What the command inherits: cwd, no_new_privs, Landlock, no capabilities, seccomp."""
    step = "chdir"
    try:
        os.chdir(setup.cwd)
        step = "session keyring"
        kernel.join_fresh_session_keyring()
        step = "no_new_privs"
        kernel.set_no_new_privs()
        if setup.landlock_ruleset is not None:
            step = "landlock"
            landlock.add_writable(setup.landlock_ruleset, setup.landlock_abi,
                                  setup.landlock_own_writable)
            landlock.restrict_self(setup.landlock_ruleset)
            # The command must not hold it (exec would close it anyway: ``O_CLOEXEC``).
            os.close(setup.landlock_ruleset)
        # Every backend: the landlock backend run by root holds them all otherwise.
        step = "capabilities"
        kernel.drop_all_capabilities(setup.last_cap)
        step = "seccomp"
        seccomp.install_filter(setup.seccomp_program)
        os.set_inheritable(setup.error_fd, False)
        if setup.status_fd is not None:
            os.set_inheritable(setup.status_fd, False)
    except BaseException as exc:
        raise _StepFailed(step, exc) from None


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def namespace_flags(setup: ChildSetup) -> int:
    """The namespaces a sandbox gets: user, mount, IPC, PID, and network when it is off."""
    flags = kernel.CLONE_NEWUSER | kernel.CLONE_NEWNS | kernel.CLONE_NEWIPC | kernel.CLONE_NEWPID
    if setup.restrict_network:
        flags |= kernel.CLONE_NEWNET
    return flags


def _enter_namespaces(setup: ChildSetup) -> None:
    kernel.unshare(namespace_flags(setup))
    _map_ids(setup)


def _map_ids(setup: ChildSetup) -> None:
    """Map the user's ids to themselves in the new user namespace (nothing else)."""
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


# Raw /proc/self/mountinfo -> its parsed form, so a spawn re-parses only after a change.
_parsed_mountinfo: dict[bytes, tuple[tuple[str, int], ...]] = {}


def _read_mountinfo() -> bytes:
    fd = os.open("/proc/self/mountinfo", os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _parse_mountinfo(raw: bytes) -> tuple[tuple[str, int], ...]:
    found = []
    for line in os.fsdecode(raw).splitlines():
        parts = line.split(" ")
        flags = 0
        for option in parts[5].split(","):
            flags |= _KEPT_FLAGS.get(option, 0)
        found.append((_unescape(parts[4]), flags))
    return tuple(found)


def _is_mount_point(path: str) -> bool:
    """Whether ``path`` is a mount point in this process's mount namespace."""
    return any(target == path for target, _ in _parse_mountinfo(_read_mountinfo()))


def read_only_remounts(writable_roots: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    """The mounts the child remounts read-only (target, flags to keep), read in the parent.

    The child's mount namespace starts as a copy of this process's; what the child adds
    itself lies under the writable roots or ``/dev``, or is read-only from the start.
    """
    raw = _read_mountinfo()
    mounts = _parsed_mountinfo.get(raw)
    if mounts is None:
        _parsed_mountinfo.clear()
        mounts = _parsed_mountinfo[raw] = _parse_mountinfo(raw)
    keep_writable = (*writable_roots, "/dev")
    return tuple(m for m in mounts if not _under(m[0], keep_writable))


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
    # Shallowest first, so that each bind carries the ones inside it made before.
    for path in sorted((*setup.writable_roots, *setup.pinned), key=lambda p: p.count("/")):
        kernel.mount(path, path, None, kernel.MS_BIND | kernel.MS_REC)
    for path in setup.read_only_binds:
        kernel.mount(path, path, None, kernel.MS_BIND | kernel.MS_REC)
        kernel.mount(None, path, None, kernel.MS_REMOUNT | kernel.MS_BIND | kernel.MS_RDONLY)
    for path in setup.masked_missing:
        kernel.mount("tmpfs", path, "tmpfs", kernel.MS_RDONLY | kernel.MS_NOSUID, "mode=555")
    for path in setup.denied_dirs:
        kernel.mount("tmpfs", path, "tmpfs", kernel.MS_RDONLY | kernel.MS_NOSUID, "mode=000")
    for path in setup.denied_files:
        kernel.mount("/dev/null", path, None, kernel.MS_BIND)
        kernel.mount(None, path, None, kernel.MS_REMOUNT | kernel.MS_BIND | kernel.MS_RDONLY)
    for target, flags in setup.read_only_remounts:
        try:
            kernel.mount(None, target, None,
                         kernel.MS_REMOUNT | kernel.MS_BIND | kernel.MS_RDONLY | flags)
        except FileNotFoundError:
            continue  # a mount point hidden by a later mount: unreachable anyway
        except OSError as exc:
            # Unmounted on the host after the parent read the list, before this namespace
            # was copied: the folder now belongs to the mount that held it, remounted too.
            # Any other failure would leave a mount writable: the set-up fails.
            if exc.errno != errno.EINVAL or _is_mount_point(target):
                raise
    # The fresh /dev itself is read-only; only its device nodes and /dev/shm take writes.
    kernel.mount(None, "/dev", None,
                 kernel.MS_REMOUNT | kernel.MS_BIND | kernel.MS_RDONLY | kernel.MS_NOSUID
                 | kernel.MS_NOEXEC)
