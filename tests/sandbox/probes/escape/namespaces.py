"""Making namespaces and mounts to undo the sandbox's: a user namespace whose root may
unmount the read-only .git, the host's mount namespace, a detached copy of a mount."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from collections.abc import Callable

from common import GIT, HOLDER, OUT, check, libc, mark, out, syscall

_CLONE_NEWNS, _CLONE_NEWUSER = 0x00020000, 0x10000000
_SIGCHLD = 17
_MNT_DETACH = 2
_MS_REMOUNT, _MS_BIND = 32, 4096
CONFIG = os.path.join(GIT, "config")


def _write_both(name: str) -> None:
    """Write the protected .git/config and the attempt's file outside, each if it can."""
    for path in (CONFIG, out(name)):
        try:
            with open(path, "a") as f:
                f.write(f"# {mark(name)}\n")
        except OSError:
            pass


def _undo_and_write(name: str, uid: int, gid: int) -> None:
    """In a fresh user and mount namespace: become root there, lift the read-only mounts
    every way there is, and write past them."""
    for path, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"),
                       ("gid_map", f"0 {gid} 1")):
        try:
            with open(f"/proc/self/{path}", "w") as f:
                f.write(text)
        except OSError:
            pass
    for target in (GIT, OUT, "/"):
        libc.mount(None, target.encode(), None, ctypes.c_ulong(_MS_REMOUNT | _MS_BIND), None)
        libc.umount2(target.encode(), _MNT_DETACH)
    _write_both(name)


def _in_child(name: str, start: Callable[[], int]) -> None:
    uid, gid = os.getuid(), os.getgid()
    pid = start()
    if pid == 0:
        try:
            _undo_and_write(name, uid, gid)
        finally:
            os._exit(0)
    check(pid)
    os.waitpid(pid, 0)


def _clone(flags: int) -> int:
    return int(libc.syscall(ctypes.c_long(_NUMBER_CLONE), ctypes.c_ulong(flags),
                            ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0),
                            ctypes.c_ulong(0)))


_NUMBER_CLONE = {"x86_64": 56, "aarch64": 220}[os.uname().machine]


def unshare_user_remount(name: str) -> None:
    def start() -> int:
        pid = os.fork()
        if pid == 0 and libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNS) != 0:
            os._exit(1)
        return pid
    _in_child(name, start)


def clone_newuser_remount(name: str) -> None:
    _in_child(name, lambda: _clone(_CLONE_NEWUSER | _CLONE_NEWNS | _SIGCHLD))


def clone_high_word_remount(name: str) -> None:
    flags = _CLONE_NEWUSER | _CLONE_NEWNS
    _in_child(name, lambda: _clone(flags | (flags << 32) | _SIGCHLD))


def clone3_newuser_remount(name: str) -> None:
    # struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal, stack,
    # stack_size, tls (8 bytes each; CLONE_ARGS_SIZE_VER0 = 64).
    args = (ctypes.c_uint64 * 8)(_CLONE_NEWUSER | _CLONE_NEWNS, 0, 0, 0, _SIGCHLD, 0, 0, 0)
    _in_child(name, lambda: int(libc.syscall(ctypes.c_long(435), args, ctypes.c_size_t(64))))


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, check=False, timeout=60)
    if result.returncode != 0:
        raise OSError(f"{argv[0]} exited {result.returncode}: {result.stderr[-200:]!r}")


def unshare_cmd_root(name: str) -> None:
    script = (f"for m in {GIT} {OUT}; do umount -l $m; mount -o remount,rw,bind $m; done; "
              f"echo '# {mark(name)}' >> {CONFIG}; echo '# {mark(name)}' >> {out(name)}")
    _run(["unshare", "-r", "-m", "sh", "-c", script])


def bwrap_nested(name: str) -> None:
    bwrap = shutil.which("bwrap") or "bwrap"
    _run([bwrap, "--bind", "/", "/", "--unshare-user", "--", "sh", "-c",
          f"echo '# {mark(name)}' >> {CONFIG}; echo '# {mark(name)}' >> {out(name)}"])


def mount_host_ns(name: str) -> None:
    check(libc.mount(b"tmpfs", os.path.join(OUT, name).encode(), b"tmpfs", 0, None))


def setns_holder_mnt(name: str) -> None:
    # The holder runs in the host's mount namespace, where .git is an ordinary folder.
    fd = os.open(f"/proc/{HOLDER}/ns/mnt", os.O_RDONLY)
    syscall("setns", ctypes.c_int(fd), ctypes.c_int(_CLONE_NEWNS))
    _write_both(name)


def open_tree_git(name: str) -> None:
    # A detached copy of a read-only mount, its read-only flag cleared, written through.
    open_tree_clone, at_recursive, at_empty_path = 1, 0x8000, 0x1000
    for folder, target in ((GIT, "config"), (OUT, f"{name}.txt")):
        try:
            tree = syscall("open_tree", ctypes.c_int(-100), folder.encode(),
                           ctypes.c_uint(open_tree_clone | at_recursive))
            attr = (ctypes.c_uint64 * 4)(0, 1, 0, 0)  # attr_set, attr_clr = MOUNT_ATTR_RDONLY
            syscall("mount_setattr", ctypes.c_int(tree), b"",
                    ctypes.c_uint(at_empty_path | at_recursive), attr, ctypes.c_size_t(32))
            fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644, dir_fd=tree)
            os.write(fd, f"# {mark(name)}\n".encode())
        except OSError:
            continue
