"""What root (or any capability) could change on the host: kernel settings, the clock,
the kernel log, device nodes. Each attempt writes a value only it uses."""

from __future__ import annotations

import ctypes
import os

from common import CTX, WS, check, leak, libc, mark

VALUES = CTX["knob_values"]
assert isinstance(VALUES, dict)
KMSG_PREFIX = "llmx-escape-kmsg-"


def _put(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def sysctl_domainname(name: str) -> None:
    _put("/proc/sys/kernel/domainname", VALUES[name])


def sysctl_printk_ratelimit(name: str) -> None:
    _put("/proc/sys/kernel/printk_ratelimit", VALUES[name])


def sysctl_net_port_range(name: str) -> None:
    _put("/proc/sys/net/ipv4/ip_local_port_range", VALUES[name])


def sysfs_knob_write(name: str) -> None:
    _put(str(CTX["sysfs_knob"]), VALUES[name])


def klogctl_console_level(name: str) -> None:
    # SYSLOG_ACTION_CONSOLE_LEVEL: needs CAP_SYSLOG, like reading the log.
    check(libc.klogctl(8, None, int(VALUES[name])))


class _Timex(ctypes.Structure):
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long),
                ("status", ctypes.c_int), ("rest", ctypes.c_long * 20)]


def adjtimex_esterror(name: str) -> None:
    # Needs CAP_SYS_TIME like setting the clock, but changes nothing anyone relies on.
    timex = _Timex(modes=0x0008, esterror=int(VALUES[name]))  # ADJ_ESTERROR
    check(libc.adjtimex(ctypes.byref(timex)))


def mknod_char_in_ws(name: str) -> None:
    os.mknod(os.path.join(WS, name), 0o20666, os.makedev(1, 3))


def kmsg_read(name: str) -> None:
    fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    found = []
    while True:
        try:
            record = os.read(fd, 8192)
        except BlockingIOError:
            break
        except BrokenPipeError:
            continue  # overwritten records
        if KMSG_PREFIX.encode() in record:
            found.append(record)
    leak(name, found)


def syslog_read(name: str) -> None:
    size = 1 << 20
    buf = ctypes.create_string_buffer(size)
    length = check(libc.klogctl(3, buf, size))  # SYSLOG_ACTION_READ_ALL
    lines = [line for line in buf.raw[:length].splitlines() if KMSG_PREFIX.encode() in line]
    leak(name, lines)


def kmsg_write(name: str) -> None:
    fd = os.open("/dev/kmsg", os.O_WRONLY)
    os.write(fd, f"llmx-escape-probe {mark(name)}\n".encode())


