"""Thin ctypes bindings to the Linux system calls the sandbox needs.

Only ``ctypes`` and ``os`` are imported: these modules sit on the start-up path of
``llmx sandbox linux`` and of every confined command, so they must stay cheap to import.
Every call raises ``OSError`` with the kernel's errno; callers decide what a failure means.
"""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_prctl = _libc.prctl
_prctl.restype = ctypes.c_int
_mount = _libc.mount
_mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                   ctypes.c_char_p]
_mount.restype = ctypes.c_int
_unshare = _libc.unshare
_unshare.argtypes = [ctypes.c_int]
_unshare.restype = ctypes.c_int

MACHINE = os.uname().machine

# Syscall numbers differ by architecture; only these two are supported (as in Codex).
_SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {
        "socket": 41, "connect": 42, "accept": 43, "sendto": 44, "recvfrom": 45,
        "sendmsg": 46, "recvmsg": 47, "shutdown": 48, "bind": 49, "listen": 50,
        "getsockname": 51, "getpeername": 52, "socketpair": 53, "setsockopt": 54,
        "getsockopt": 55, "ptrace": 101, "mount": 165, "umount2": 166, "pivot_root": 155,
        "accept4": 288, "recvmmsg": 299, "sendmmsg": 307, "setns": 308,
        "process_vm_readv": 310, "process_vm_writev": 311, "unshare": 272,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "fspick": 433, "mount_setattr": 442,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "landlock_create_ruleset": 444, "landlock_add_rule": 445,
        "landlock_restrict_self": 446, "seccomp": 317, "clone": 56, "clone3": 435,
        "ioctl": 16, "add_key": 248, "request_key": 249, "keyctl": 250,
    },
    "aarch64": {
        "socket": 198, "socketpair": 199, "bind": 200, "listen": 201, "accept": 202,
        "connect": 203, "getsockname": 204, "getpeername": 205, "sendto": 206,
        "recvfrom": 207, "setsockopt": 208, "getsockopt": 209, "shutdown": 210,
        "sendmsg": 211, "recvmsg": 212, "ptrace": 117, "mount": 40, "umount2": 39,
        "pivot_root": 41, "accept4": 242, "recvmmsg": 243, "sendmmsg": 269, "setns": 268,
        "process_vm_readv": 270, "process_vm_writev": 271, "unshare": 97,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "fspick": 433, "mount_setattr": 442,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "landlock_create_ruleset": 444, "landlock_add_rule": 445,
        "landlock_restrict_self": 446, "seccomp": 277, "clone": 220, "clone3": 435,
        "ioctl": 29, "add_key": 217, "request_key": 218, "keyctl": 219,
    },
}

# AUDIT_ARCH_* values: a seccomp filter must check the calling convention it was built for.
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWTIME = 0x00000080
CLONE_VM = 0x00000100
CLONE_VFORK = 0x00004000
_SIGCHLD = 17  # the same on x86_64 and aarch64; ``signal`` is not imported here

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
MNT_DETACH = 2
SECCOMP_MODE_FILTER = 2


def supported_machine() -> bool:
    return MACHINE in _SYSCALLS


def syscall_number(name: str) -> int:
    return _SYSCALLS[MACHINE][name]


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def syscall(name: str, *args: object) -> int:
    return _check(_syscall(ctypes.c_long(syscall_number(name)), *args), name)


def unshare(flags: int) -> None:
    _check(_unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int,
          data: str | None = None) -> None:
    result = _mount(
        source.encode() if source is not None else None,
        target.encode(),
        fstype.encode() if fstype is not None else None,
        flags,
        data.encode() if data is not None else None,
    )
    _check(result, f"mount {target}")


def umount(target: str) -> None:
    """Detach ``target`` lazily (the mount goes once nothing uses it)."""
    syscall("umount2", target.encode(), ctypes.c_int(MNT_DETACH))


def prctl(option: int, arg2: int = 0, arg3: object = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(
        _prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), arg3, ctypes.c_ulong(arg4),
               ctypes.c_ulong(arg5)),
        "prctl",
    )


def fork() -> int:
    """``fork`` without Python's at-fork handlers, for a single-threaded process only.

    The handlers (re-seeding ``random``, resetting the state of other threads...) serve a
    child that goes on running the program; the sandbox's children run a few system calls
    and exit, and skipping them spares the copy-on-write faults they cause.
    """
    return _check(_libc.fork(), "fork")


def fork_into(namespaces: int) -> int:
    """``fork`` whose child starts in new ``namespaces`` (``CLONE_NEW*`` flags): the raw
    ``clone`` system call, with no handlers of Python's or libc's, for a single-threaded
    process only.

    With ``CLONE_NEWPID`` the child is PID 1 of the new namespace, so no process has to
    stand between the caller and the namespace (as after ``unshare``, whose caller stays
    outside). libc does not learn of the child: its thread id cached in the thread block
    is the parent's, which only ``raise`` and ``pthread_kill`` would use; the sandbox's
    children use neither.
    """
    # clone(flags, stack, parent_tid, child_tid, tls) on x86_64 and (.., tls, child_tid)
    # on aarch64: all zero but the flags, as fork itself passes them.
    return syscall("clone", ctypes.c_ulong(namespaces | _SIGCHLD), ctypes.c_void_p(0),
                   ctypes.c_void_p(0), ctypes.c_void_p(0), ctypes.c_void_p(0))


# The probe child's whole program: libc's ``_exit``, called by ``clone`` with a null
# argument, so it exits 0 without running any Python.
_clone = _libc.clone
_clone.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
_clone.restype = ctypes.c_int
_PROBE_STACK_BYTES = 16384


def clone_probe(namespaces: int) -> int:
    """0 when a child can be created in new ``namespaces`` (``CLONE_NEW*`` flags), else
    the kernel's errno.

    Cheaper than ``fork`` + ``unshare`` by the copy of this interpreter's page tables: the
    child shares this process's memory (``CLONE_VM``), runs only ``_exit(0)`` on a stack
    of its own, and this process waits until it has (``CLONE_VFORK``).
    """
    stack = ctypes.create_string_buffer(_PROBE_STACK_BYTES)
    top = (ctypes.addressof(stack) + _PROBE_STACK_BYTES) & ~15
    exit_fn = ctypes.cast(_libc._exit, ctypes.c_void_p)
    pid = _clone(exit_fn, top, namespaces | CLONE_VM | CLONE_VFORK | _SIGCHLD, None)
    if pid < 0:
        return ctypes.get_errno() or 1
    _, status = os.waitpid(pid, 0)
    return 0 if os.waitstatus_to_exitcode(status) == 0 else 1


_KEYCTL_JOIN_SESSION_KEYRING = 1
_ENOSYS = 38


def join_fresh_session_keyring() -> None:
    """Leave the caller's session keyring for a new anonymous one (inherited by children),
    so that nothing started afterwards holds the caller's keys. A kernel built without
    keyrings has nothing to leave."""
    try:
        syscall("keyctl", ctypes.c_int(_KEYCTL_JOIN_SESSION_KEYRING), None)
    except OSError as exc:
        if exc.errno != _ENOSYS:
            raise


def set_no_new_privs() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap", "rb") as f:
            return int(f.read())
    except OSError:
        return 40


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


PR_GET_SECUREBITS = 27
PR_SET_SECUREBITS = 28
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAP_SETPCAP = 8
# NOROOT, NO_SETUID_FIXUP and NO_CAP_AMBIENT_RAISE, each with its lock, and KEEP_CAPS
# locked off: uid 0 gains no capability at exec or by setuid, and none can be raised.
_SECUREBITS_LOCKED_DOWN = 0b11101111


def _capabilities() -> tuple[_CapHeader, ctypes.Array[_CapData]]:
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.capget(ctypes.byref(header), ctypes.byref(data)), "capget")
    return header, data


def drop_all_capabilities(last_cap: int) -> None:
    """Drop every capability for good: the effective, permitted, inheritable and ambient
    sets, the bounding set, and (securebits, locked) the ways uid 0 regains them.

    The bounding set and the securebits need CAP_SETPCAP; a process without it (an
    ordinary user, no user namespace) holds no capability an exec could make effective
    under ``no_new_privs``, so for it the rest suffices.
    """
    header, data = _capabilities()
    if data[0].effective & (1 << _CAP_SETPCAP):
        prctl(PR_SET_SECUREBITS, _SECUREBITS_LOCKED_DOWN)
        for cap in range(last_cap + 1):
            prctl(PR_CAPBSET_DROP, cap)
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")
    if any(any((d.effective, d.permitted, d.inheritable)) for d in _capabilities()[1]):
        raise OSError(1, "capabilities remained after dropping them")
