"""What every attempt of the escape probe shares: the context, the marks, system calls.

The probe runs inside the sandbox under test. Nothing it prints decides a verdict: each
attempt leaves its mark (``mark(name)``) wherever it got to, and the host looks for the
marks. What an attempt learns it prints with ``leak`` (stderr), where the host looks for
secrets the probe was never told.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys

CTX: dict[str, object] = json.loads(sys.argv[1])
TOKEN = str(CTX["token"])
WS, SCRATCH, OUT, NEST = (str(CTX[key]) for key in ("ws", "scratch", "outside", "nest"))
GIT = os.path.join(WS, ".git")
HOLDER = int(str(CTX["holder_pid"]))
MACHINE = os.uname().machine

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

_NUMBERS = {
    "x86_64": {"clone": 56, "clone3": 435, "renameat2": 316, "pidfd_getfd": 438,
               "add_key": 248, "request_key": 249, "keyctl": 250, "io_uring_setup": 425,
               "io_uring_enter": 426, "open_tree": 428, "mount_setattr": 442,
               "name_to_handle_at": 303, "open_by_handle_at": 304, "setns": 308,
               "rt_sigqueueinfo": 129},
    "aarch64": {"clone": 220, "clone3": 435, "renameat2": 276, "pidfd_getfd": 438,
                "add_key": 217, "request_key": 218, "keyctl": 219, "io_uring_setup": 425,
                "io_uring_enter": 426, "open_tree": 428, "mount_setattr": 442,
                "name_to_handle_at": 264, "open_by_handle_at": 265, "setns": 268,
                "rt_sigqueueinfo": 240},
}[MACHINE]


def mark(name: str) -> str:
    """What attempt ``name`` leaves behind wherever it gets (the host looks for it)."""
    return f"{TOKEN}:{name}"


def out(name: str) -> str:
    """The attempt's own file outside every writable root."""
    return os.path.join(OUT, f"{name}.txt")


def write(path: str, name: str, mode: str = "w") -> None:
    # A comment line in most formats (git's config among them), so that a file an
    # unconfined run marks stays usable for the attempts after it.
    with open(path, mode) as f:
        f.write(f"# {mark(name)}\n")


def leak(name: str, data: object) -> None:
    """Print what an attempt read: the host searches it for secrets."""
    sys.stderr.write(f"leak {name}: {data!r}\n")
    sys.stderr.flush()


def check(rc: int) -> int:
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return rc


def syscall(name: str, *args: object) -> int:
    return check(libc.syscall(ctypes.c_long(_NUMBERS[name]), *args))


def renameat2_exchange(first: str, second: str) -> None:
    at_fdcwd, exchange = -100, 2
    syscall("renameat2", ctypes.c_int(at_fdcwd), first.encode(), ctypes.c_int(at_fdcwd),
            second.encode(), ctypes.c_uint(exchange))


def open_descriptors() -> dict[int, str]:
    found = {}
    for entry in os.listdir("/proc/self/fd"):
        try:
            found[int(entry)] = os.readlink(f"/proc/self/fd/{entry}")
        except OSError:
            continue  # the descriptor the listing itself used
    return found


# Taken before any attempt runs (attempts leave descriptors of their own open).
AT_START = open_descriptors()
