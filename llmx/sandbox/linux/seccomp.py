"""The seccomp filter, assembled as classic BPF in Python (no libseccomp needed).

The program follows Codex's rules (spec 5.5) with two additions: mount-family and
namespace syscalls are always refused, because the own backend leaves the command as
uid 0 of a user namespace whose mounts it created, and a command that could unmount the
read-only binds would escape them. Namespaces cannot be made through ``clone`` either: a
``clone`` whose flags ask for one fails with ``EPERM``, and ``clone3`` (whose flags sit in
a struct the filter cannot read) fails with ``ENOSYS``, so libc falls back to ``clone``.
Terminal injection is refused too (``ioctl`` with ``TIOCSTI`` or ``TIOCLINUX``), whatever
descriptor it names. Default action: allow; a matching rule fails with ``EPERM``; a
foreign calling convention (x32, or a 32-bit ABI) kills the process.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

from llmx.sandbox.linux import kernel

# BPF opcodes used here.
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06

_RET_ALLOW = 0x7FFF0000
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000

_AF_UNIX = 1
_X32_SYSCALL_BIT = 0x40000000

# Offsets inside ``struct seccomp_data``.
_NR = 0
_ARCH = 4
_ARG0_LOW = 16  # little-endian: the low 32 bits of args[0]
_ARG1_LOW = 24
_ARG4_LOW = 48
_ARG4_HIGH = 52

ALWAYS_DENIED = (
    "ptrace", "process_vm_readv", "process_vm_writev",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "mount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr", "unshare", "setns",
    # Kernel keyrings: the command starts in an empty session keyring of its own, and
    # may neither read the user's keyrings nor plant keys in them.
    "keyctl", "add_key", "request_key",
)

# ``clone`` flags that make a namespace. The kernel reads only the low 32 bits of clone's
# flags (``lower_32_bits`` in kernel/fork.c), so checking the low word is enough and the
# high word carries nothing. CLONE_NEWTIME's bit is the exit-signal byte for ``clone``
# (where it names no valid signal); it is listed for what it means to ``clone3``/unshare.
NAMESPACE_CLONE_FLAGS = (
    kernel.CLONE_NEWUSER | kernel.CLONE_NEWNS | kernel.CLONE_NEWPID | kernel.CLONE_NEWNET
    | kernel.CLONE_NEWIPC | kernel.CLONE_NEWUTS | kernel.CLONE_NEWCGROUP
    | kernel.CLONE_NEWTIME
)

# ioctl requests refused on every descriptor: TIOCSTI pushes bytes into a terminal's input
# (a command holding the user's terminal types into the shell that runs after it) and
# TIOCLINUX's selection calls do the same on a virtual console. The kernel reads the
# request as 32 bits, so checking the low word of args[1] is exact.
TIOCSTI = 0x5412
TIOCLINUX = 0x541C
DENIED_IOCTLS = (TIOCSTI, TIOCLINUX)

# With the network restricted: everything that could talk over a socket that is not a
# socketpair. ``recvfrom``/``sendmsg``/``recvmsg`` stay allowed for socketpair IPC.
NETWORK_DENIED = (
    "connect", "accept", "accept4", "bind", "listen", "getpeername", "getsockname",
    "shutdown", "sendmmsg", "recvmmsg", "getsockopt", "setsockopt",
)
# Refused when it names a destination (args[4] != NULL). Without one it can only use a
# connected socket, and with connect refused that is a socketpair or an inherited fd:
# libc's send() is sendto() with no address, so socketpair IPC needs it.
ADDRESSED_ONLY = ("sendto",)
# Refused unless the domain (args[0]) is AF_UNIX and the type (args[1], less its flags)
# is a connection's: a datagram socket sends to any pathname or abstract socket it names
# (even one of a socketpair, and with SCM_RIGHTS descriptors along), no connect needed.
# AF_UNIX takes SOCK_RAW as SOCK_DGRAM.
UNIX_ONLY = ("socket", "socketpair")
_SOCK_TYPE_MASK = 0xF
UNIX_CONNECTION_TYPES = (1, 5)  # SOCK_STREAM, SOCK_SEQPACKET


_JUMPS = {"jeq": _JEQ_K, "jge": _JGE_K, "jset": _JSET_K}
_ALU_AND_K = 0x54


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def build_filter(*, restrict_network: bool) -> bytes:
    """The filter program as raw ``struct sock_filter`` bytes for the running machine."""
    if not kernel.supported_machine():
        raise OSError(errno.ENOSYS, f"seccomp filter not available on {kernel.MACHINE}")
    deny = [kernel.syscall_number(n) for n in ALWAYS_DENIED]
    unix_only: list[int] = []
    addressed: list[int] = []
    if restrict_network:
        deny += [kernel.syscall_number(n) for n in NETWORK_DENIED]
        unix_only = [kernel.syscall_number(n) for n in UNIX_ONLY]
        addressed = [kernel.syscall_number(n) for n in ADDRESSED_ONLY]

    body: list[tuple[str, int, str | None, str | None]] = []
    body.append(("ld", _ARCH, None, None))
    body.append(("jeq", kernel.AUDIT_ARCH[kernel.MACHINE], None, "kill"))
    body.append(("ld", _NR, None, None))
    if kernel.MACHINE == "x86_64":
        body.append(("jge", _X32_SYSCALL_BIT, "kill", None))
    body.extend(("jeq", nr, "errno", None) for nr in deny)
    body.append(("jeq", kernel.syscall_number("clone"), "clone_flags", None))
    body.append(("jeq", kernel.syscall_number("clone3"), "enosys", None))
    body.append(("jeq", kernel.syscall_number("ioctl"), "ioctl_request", None))
    body.extend(("jeq", nr, "domain", None) for nr in unix_only)
    body.extend(("jeq", nr, "no_address", None) for nr in addressed)
    # Every jump goes forward (classic BPF has no backward jumps), so the argument checks
    # sit between the plain ALLOW and the ERRNO/KILL returns.
    labels: dict[str, int] = {}
    body.append(("ret", _RET_ALLOW, None, None))
    labels["clone_flags"] = len(body)
    body.append(("ld", _ARG0_LOW, None, None))
    body.append(("jset", NAMESPACE_CLONE_FLAGS, "errno", "allow"))
    labels["ioctl_request"] = len(body)
    body.append(("ld", _ARG1_LOW, None, None))
    body.extend(("jeq", request, "errno", None) for request in DENIED_IOCTLS)
    body.append(("ret", _RET_ALLOW, None, None))
    labels["domain"] = len(body)
    body.append(("ld", _ARG0_LOW, None, None))
    body.append(("jeq", _AF_UNIX, None, "errno"))
    body.append(("ld", _ARG1_LOW, None, None))
    body.append(("and", _SOCK_TYPE_MASK, None, None))
    body.extend(("jeq", kind, "allow", None) for kind in UNIX_CONNECTION_TYPES)
    body.append(("ret", _RET_ERRNO | errno.EPERM, None, None))
    labels["no_address"] = len(body)
    body.append(("ld", _ARG4_LOW, None, None))
    body.append(("jeq", 0, None, "errno"))
    body.append(("ld", _ARG4_HIGH, None, None))
    body.append(("jeq", 0, "allow", "errno"))
    labels["errno"] = len(body)
    body.append(("ret", _RET_ERRNO | errno.EPERM, None, None))
    labels["enosys"] = len(body)
    body.append(("ret", _RET_ERRNO | errno.ENOSYS, None, None))
    labels["kill"] = len(body)
    body.append(("ret", _RET_KILL_PROCESS, None, None))
    labels["allow"] = len(body)
    body.append(("ret", _RET_ALLOW, None, None))

    out = bytearray()
    for index, (op, k, jt, jf) in enumerate(body):
        if op == "ld":
            out += _insn(_LD_W_ABS, k)
        elif op == "and":
            out += _insn(_ALU_AND_K, k)
        elif op == "ret":
            out += _insn(_RET_K, k)
        else:
            code = _JUMPS[op]
            true_off = labels[jt] - index - 1 if jt else 0
            false_off = labels[jf] - index - 1 if jf else 0
            if not (0 <= true_off < 256 and 0 <= false_off < 256):
                raise ValueError("seccomp program too long for 8-bit jumps")
            out += _insn(code, k, true_off, false_off)
    return bytes(out)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_filter(program: bytes) -> None:
    """Set ``no_new_privs`` and load ``program`` into the calling thread (before exec)."""
    kernel.set_no_new_privs()
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    kernel.prctl(kernel.PR_SET_SECCOMP, kernel.SECCOMP_MODE_FILTER, ctypes.byref(fprog))


def filter_memfd(program: bytes) -> int:
    """A readable fd holding ``program``, for ``bwrap --seccomp FD`` (read from offset 0)."""
    fd = os.memfd_create("llmx-seccomp", os.MFD_CLOEXEC)
    os.write(fd, program)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
