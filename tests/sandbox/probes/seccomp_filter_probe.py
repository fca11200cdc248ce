"""Loads llmx's seccomp filter into itself and reports what the calls it governs get.

Usage: seccomp_filter_probe.py RESTRICT_NETWORK(0|1).  Prints one JSON object:
``{"unfiltered": {flag: errno}, "filtered": {flag: errno}, ...}`` (0 = the call worked).
The process first makes itself a user namespace, so it holds every capability there and
each namespace flag alone succeeds without the filter: a refusal after it is the filter's.
It also takes a pseudo-terminal as its controlling terminal, so that the terminal ioctls
work without the filter.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import sys
import termios

from llmx.sandbox.linux import kernel, seccomp

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
_SIGCHLD = 17
FLAGS = {
    "CLONE_NEWUSER": kernel.CLONE_NEWUSER, "CLONE_NEWNS": kernel.CLONE_NEWNS,
    "CLONE_NEWPID": kernel.CLONE_NEWPID, "CLONE_NEWNET": kernel.CLONE_NEWNET,
    "CLONE_NEWIPC": kernel.CLONE_NEWIPC, "CLONE_NEWUTS": kernel.CLONE_NEWUTS,
    "CLONE_NEWCGROUP": kernel.CLONE_NEWCGROUP,
}
USER_NS = os.readlink("/proc/self/ns/user")


def clone(flags: int) -> tuple[int, int]:
    """(errno or 0, the child's exit code). The child exits 0 in this process's user
    namespace, 3 in another one."""
    pid = libc.syscall(ctypes.c_long(kernel.syscall_number("clone")),
                       ctypes.c_ulong(flags | _SIGCHLD), ctypes.c_ulong(0),
                       ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
    if pid == 0:
        os._exit(0 if os.readlink("/proc/self/ns/user") == USER_NS else 3)
    if pid < 0:
        return ctypes.get_errno(), -1
    return 0, os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def clone3(flags: int) -> int:
    args = (ctypes.c_uint64 * 8)(flags, 0, 0, 0, _SIGCHLD, 0, 0, 0)
    pid = libc.syscall(ctypes.c_long(kernel.syscall_number("clone3")), args,
                       ctypes.c_size_t(64))
    if pid == 0:
        os._exit(0)
    if pid < 0:
        return ctypes.get_errno()
    os.waitpid(pid, 0)
    return 0


def ioctl(fd: int, request: int, arg: bytes = b"x", high_word: int = 0) -> int:
    """errno of ``ioctl(fd, request | high_word << 32, arg)`` (0 = it worked)."""
    buf = ctypes.create_string_buffer(arg, 64)
    result = libc.syscall(ctypes.c_long(kernel.syscall_number("ioctl")), ctypes.c_long(fd),
                          ctypes.c_ulong(request | (high_word << 32)), buf)
    return ctypes.get_errno() if result < 0 else 0


def terminal_ioctls(fd: int) -> dict[str, int]:
    found = {"TIOCSTI": ioctl(fd, seccomp.TIOCSTI), "TCGETS": ioctl(fd, termios.TCGETS),
             "TIOCSTI_high_word": ioctl(fd, seccomp.TIOCSTI, high_word=1)}
    # TIOCLINUX subcode 12 (the console's mode) on a pty: refused by the tty layer.
    found["TIOCLINUX"] = ioctl(fd, seccomp.TIOCLINUX, bytes((12,)))
    return found


def _errno(result: int) -> int:
    return ctypes.get_errno() if result < 0 else 0


def keyrings() -> dict[str, int]:
    session = ctypes.c_int(-3)
    call = libc.syscall
    return {
        "keyctl": _errno(call(ctypes.c_long(kernel.syscall_number("keyctl")),
                              ctypes.c_int(0), session, ctypes.c_int(0))),
        "add_key": _errno(call(ctypes.c_long(kernel.syscall_number("add_key")), b"user",
                               b"probe", b"x", ctypes.c_size_t(1), session)),
        "request_key": _errno(call(ctypes.c_long(kernel.syscall_number("request_key")),
                                   b"user", b"no-such-key", None, ctypes.c_int(0))),
    }


SOCKET_KINDS = {"stream": 1, "dgram": 2, "raw": 3, "seqpacket": 5,
                "dgram_cloexec": 2 | 0o2000000, "stream_nonblock": 1 | 0o4000}


def unix_sockets() -> dict[str, int]:
    found = {}
    for name, kind in SOCKET_KINDS.items():
        fd = libc.socket(1, kind, 0)
        found[f"socket_{name}"] = _errno(fd)
        pair = (ctypes.c_int * 2)()
        found[f"socketpair_{name}"] = _errno(libc.socketpair(1, kind, 0, pair))
    return found


def controlling_terminal() -> int:
    """A new session with a pseudo-terminal as its controlling terminal (its main side
    stays open: closing it would hang the terminal up)."""
    os.setsid()
    _main, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSCTTY, 0)
    return follower


def main() -> None:
    restrict_network = sys.argv[1] == "1"
    tty = controlling_terminal()
    uid, gid = os.getuid(), os.getgid()
    kernel.unshare(kernel.CLONE_NEWUSER)
    # A nested user namespace needs the creator's ids mapped in this one.
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                       ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    global USER_NS
    USER_NS = os.readlink("/proc/self/ns/user")
    report: dict[str, object] = {
        "restrict_network": restrict_network,
        "unfiltered": {name: clone(flag)[0] for name, flag in FLAGS.items()},
        "unfiltered_clone3": clone3(0),
        "ioctl_unfiltered": terminal_ioctls(tty),
        "keys_unfiltered": keyrings(),
        "unix_unfiltered": unix_sockets(),
    }
    seccomp.install_filter(seccomp.build_filter(restrict_network=restrict_network))
    report["filtered"] = {name: clone(flag)[0] for name, flag in FLAGS.items()}
    report["filtered_all"] = clone(seccomp.NAMESPACE_CLONE_FLAGS & ~kernel.CLONE_NEWTIME)[0]
    report["plain_fork"] = clone(0)
    # Namespace bits in the high word only: the kernel ignores them, the child must stay
    # in this user namespace.
    report["high_word_only"] = clone(kernel.CLONE_NEWUSER << 32)
    report["clone3_plain"] = clone3(0)
    report["clone3_newuser"] = clone3(kernel.CLONE_NEWUSER)
    report["ioctl_filtered"] = terminal_ioctls(tty)
    report["keys_filtered"] = keyrings()
    report["unix_filtered"] = unix_sockets()
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
