"""Landlock: the second filesystem fence (and, from ABI 4/6, TCP and signal scoping).

Landlock is an allow-list: reads and execution everywhere readable, every right under
the writable roots. It cannot carve a read-only ``.git`` out of a writable root, which is
why the mount namespace stays the first fence. A Landlock domain also refuses ``mount``,
so it must be entered after the mounts are in place: in the own backend, at the end of
the forked child's set-up; the bubblewrap backend cannot use it (bwrap mounts after our
last chance to run code), and relies on its namespaces plus seccomp.
"""

from __future__ import annotations

import ctypes
import os
import stat
import struct

from llmx.sandbox.linux import kernel
from llmx.sandbox.value import Value

_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_RULE_NET_PORT = 2

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5

NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1

SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1

READ_ACCESS = EXECUTE | READ_FILE | READ_DIR
FILE_ONLY_ACCESS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV

# Devices a confined command may still write (its output often goes there).
WRITABLE_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/ptmx")
WRITABLE_DEVICE_DIRS = ("/dev/pts", "/dev/shm")


def abi_version() -> int:
    """The kernel's Landlock ABI (0 when Landlock is absent or disabled)."""
    try:
        return kernel.syscall("landlock_create_ruleset", None, ctypes.c_size_t(0),
                              ctypes.c_uint32(_CREATE_RULESET_VERSION))
    except OSError:
        return 0


def _all_fs_access(abi: int) -> int:
    access = (1 << 13) - 1
    if abi >= 2:
        access |= REFER
    if abi >= 3:
        access |= TRUNCATE
    if abi >= 5:
        access |= IOCTL_DEV
    return access


class LandlockRules(Value):
    """What the ruleset allows; computed in the parent, applied in the child."""

    __slots__ = ("abi", "readable", "restrict_network", "writable")

    def __init__(
        self,
        abi: int,
        readable: tuple[str, ...],
        writable: tuple[str, ...],
        restrict_network: bool,
    ) -> None:
        self.abi = abi
        self.readable = readable
        self.writable = writable
        self.restrict_network = restrict_network


def apply(rules: LandlockRules) -> None:
    """Create the ruleset, add the rules and restrict the calling thread.

    ``no_new_privs`` must already be set (seccomp installation sets it).
    """
    ruleset = build_ruleset(rules)
    try:
        restrict_self(ruleset)
    finally:
        os.close(ruleset)


def build_ruleset(rules: LandlockRules) -> int:
    """A new ruleset holding ``rules`` (an ``O_CLOEXEC`` descriptor the caller closes).

    Rules name inodes, not paths: a ruleset built by the parent holds in a child's mount
    namespace for every path that is bound there from the parent's view (the root, the
    writable roots, the device nodes), and not for a filesystem the child mounts itself
    (its ``/dev/pts`` and ``/dev/shm``), which the child adds with ``add_writable``.
    """
    handled_fs = _all_fs_access(rules.abi)
    handled_net = NET_BIND_TCP | NET_CONNECT_TCP if rules.restrict_network and rules.abi >= 4 else 0
    scoped = SCOPE_SIGNAL | SCOPE_ABSTRACT_UNIX_SOCKET if rules.abi >= 6 else 0
    if rules.abi >= 6:
        attr = struct.pack("<QQQ", handled_fs, handled_net, scoped)
    elif rules.abi >= 4:
        attr = struct.pack("<QQ", handled_fs, handled_net)
    else:
        attr = struct.pack("<Q", handled_fs)
    buf = ctypes.create_string_buffer(attr, len(attr))
    ruleset = kernel.syscall("landlock_create_ruleset", buf, ctypes.c_size_t(len(attr)),
                             ctypes.c_uint32(0))
    try:
        for path in rules.readable:
            _add_path(ruleset, path, READ_ACCESS & handled_fs)
        add_writable(ruleset, rules.abi, rules.writable)
    except BaseException:
        os.close(ruleset)
        raise
    return ruleset


def add_writable(ruleset: int, abi: int, paths: tuple[str, ...]) -> None:
    """Allow every access under each of ``paths`` (a missing one is skipped)."""
    for path in paths:
        _add_path(ruleset, path, _all_fs_access(abi))


def restrict_self(ruleset: int) -> None:
    """Enter the ruleset's domain (inherited by every process started afterwards)."""
    kernel.syscall("landlock_restrict_self", ctypes.c_int(ruleset), ctypes.c_uint32(0))


def _add_path(ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            access &= FILE_ONLY_ACCESS
        rule = struct.pack("<Qi", access, fd)
        buf = ctypes.create_string_buffer(rule, len(rule))
        kernel.syscall("landlock_add_rule", ctypes.c_int(ruleset),
                       ctypes.c_int(_RULE_PATH_BENEATH), buf, ctypes.c_uint32(0))
    finally:
        os.close(fd)
