"""Reaching the host's processes: reading their memory or environment, signalling them,
borrowing their descriptors, changing their scheduling, and outliving the sandbox."""

from __future__ import annotations

import ctypes
import os
import resource
import signal

from common import CTX, HOLDER, TOKEN, check, leak, libc, mark, syscall

SECRET_ADDRESS = int(str(CTX["holder_address"]))
SECRET_LENGTH = int(str(CTX["holder_length"]))
VICTIM = int(str(CTX["victim_pid"]))
_PTRACE_PEEKDATA, _PTRACE_ATTACH, _PTRACE_DETACH = 2, 16, 17
libc.ptrace.restype = ctypes.c_long
_WALL = 0x40000000


def ptrace_holder_peek(name: str) -> None:
    check(libc.ptrace(ctypes.c_long(_PTRACE_ATTACH), ctypes.c_long(HOLDER), None, None))
    try:
        os.waitpid(HOLDER, _WALL)
        words = []
        for offset in range(0, SECRET_LENGTH + 8, 8):
            ctypes.set_errno(0)
            word = libc.ptrace(ctypes.c_long(_PTRACE_PEEKDATA), ctypes.c_long(HOLDER),
                               ctypes.c_void_p(SECRET_ADDRESS + offset), None)
            words.append(ctypes.c_long(word).value.to_bytes(8, "little", signed=True))
        leak(name, b"".join(words))
    finally:
        libc.ptrace(ctypes.c_long(_PTRACE_DETACH), ctypes.c_long(HOLDER), None, None)


def process_vm_readv_holder(name: str) -> None:
    buf = ctypes.create_string_buffer(SECRET_LENGTH)
    local = (ctypes.c_void_p * 2)(ctypes.cast(buf, ctypes.c_void_p), SECRET_LENGTH)
    remote = (ctypes.c_void_p * 2)(SECRET_ADDRESS, SECRET_LENGTH)
    check(libc.process_vm_readv(HOLDER, local, 1, remote, 1, 0))
    leak(name, buf.raw)


def proc_mem_holder(name: str) -> None:
    with open(f"/proc/{HOLDER}/mem", "rb") as f:
        f.seek(SECRET_ADDRESS)
        leak(name, f.read(SECRET_LENGTH))


def proc_environ_holder(name: str) -> None:
    with open(f"/proc/{HOLDER}/environ", "rb") as f:
        leak(name, f.read())


def proc_cmdline_holder(name: str) -> None:
    with open(f"/proc/{HOLDER}/cmdline", "rb") as f:
        leak(name, f.read())


def proc_caller_environ(name: str) -> None:
    # The process that started the sandbox (its command line holds the run's token).
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if TOKEN.encode() not in f.read():
                    continue
            with open(f"/proc/{entry}/environ", "rb") as f:
                leak(name, f.read())
        except OSError:
            continue


def init_environ(name: str) -> None:
    # PID 1 of a PID namespace is the sandbox's own init (llmx's or bubblewrap's).
    with open("/proc/1/environ", "rb") as f:
        leak(name, f.read())


def env_secret(name: str) -> None:
    leak(name, dict(os.environ))


def signal_holder(name: str) -> None:
    os.kill(HOLDER, signal.SIGUSR1)


def pidfd_signal_holder(name: str) -> None:
    signal.pidfd_send_signal(os.pidfd_open(HOLDER), signal.SIGUSR2)


def rt_sigqueue_holder(name: str) -> None:
    info = (ctypes.c_int * 32)(signal.SIGRTMIN + 3, 0, -1)  # signo, errno, SI_QUEUE
    syscall("rt_sigqueueinfo", ctypes.c_int(HOLDER), ctypes.c_int(signal.SIGRTMIN + 3), info)


def kill_victim(name: str) -> None:
    os.kill(VICTIM, signal.SIGKILL)


def pidfd_getfd_holder(name: str) -> None:
    holder_fds = CTX["holder_fds"]
    assert isinstance(holder_fds, dict)
    fd = syscall("pidfd_getfd", ctypes.c_int(os.pidfd_open(HOLDER)),
                 ctypes.c_int(int(holder_fds[name])), ctypes.c_uint(0))
    os.write(fd, mark(name).encode())


def setpriority_holder(name: str) -> None:
    os.setpriority(os.PRIO_PROCESS, HOLDER, 17)


def prlimit_holder(name: str) -> None:
    _soft, hard = resource.prlimit(HOLDER, resource.RLIMIT_CORE)
    resource.prlimit(HOLDER, resource.RLIMIT_CORE, (4242, hard))


def detach_sleeper(name: str) -> None:
    # Leaves the command's session and process group: only a PID namespace still holds it.
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.execvp("sleep", ["sleep", str(CTX["detach_seconds"])])
        os._exit(0)
    os.wait()
