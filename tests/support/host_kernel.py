"""Host-side reads and writes of kernel state for the escape suite (ctypes; x86_64 and
aarch64): keyrings, the clock's error estimate, the kernel log, loopback addresses."""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess

from support.waits import WAIT_SECONDS

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_NUMBERS = {"x86_64": {"add_key": 248, "keyctl": 250},
            "aarch64": {"add_key": 217, "keyctl": 219}}.get(os.uname().machine, {})

SESSION_KEYRING, USER_KEYRING = -3, -4
_KEYCTL_DESCRIBE, _KEYCTL_CLEAR, _KEYCTL_UNLINK, _KEYCTL_SETPERM = 6, 7, 9, 5
_KEYCTL_READ, _KEYCTL_JOIN_SESSION, _KEYCTL_LINK = 11, 1, 8
# Only a process possessing the key (holding a keyring it is linked from) may see it.
POSSESSOR_ALL = 0x3F000000


def _call(name: str, *args: object) -> int:
    if name not in _NUMBERS:
        raise OSError(38, f"{name}: not known on this machine")
    result = _libc.syscall(ctypes.c_long(_NUMBERS[name]), *args)
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")
    return int(result)


def join_fresh_session_keyring() -> int:
    """Give this process (and what it starts) an anonymous session keyring of its own,
    holding the user keyring as a login session's default keyring does."""
    keyring = _call("keyctl", ctypes.c_int(_KEYCTL_JOIN_SESSION), None)
    _call("keyctl", ctypes.c_int(_KEYCTL_LINK), ctypes.c_int(USER_KEYRING),
          ctypes.c_int(SESSION_KEYRING))
    return keyring


def add_key(description: str, payload: str, keyring: int) -> int:
    data = payload.encode()
    key = _call("add_key", b"user", description.encode(), data, ctypes.c_size_t(len(data)),
                ctypes.c_int(keyring))
    _call("keyctl", ctypes.c_int(_KEYCTL_SETPERM), ctypes.c_int(key),
          ctypes.c_uint(POSSESSOR_ALL))
    return key


def _read(key: int) -> bytes:
    buf = ctypes.create_string_buffer(65536)
    length = _call("keyctl", ctypes.c_int(_KEYCTL_READ), ctypes.c_int(key), buf,
                   ctypes.c_size_t(65536))
    return buf.raw[:length]


def key_descriptions(keyring: int) -> dict[int, str]:
    """The keys linked from ``keyring``: id -> description."""
    found = {}
    ids = _read(keyring)
    for index in range(0, len(ids), 4):
        key = int.from_bytes(ids[index:index + 4], "little", signed=True)
        buf = ctypes.create_string_buffer(4096)
        try:
            length = _call("keyctl", ctypes.c_int(_KEYCTL_DESCRIBE), ctypes.c_int(key), buf,
                           ctypes.c_size_t(4096))
        except OSError:
            continue
        found[key] = buf.raw[:length].rstrip(b"\0").decode(errors="replace").rsplit(";", 1)[-1]
    return found


def unlink_key(key: int, keyring: int) -> None:
    with contextlib.suppress(OSError):
        _call("keyctl", ctypes.c_int(_KEYCTL_UNLINK), ctypes.c_int(key), ctypes.c_int(keyring))


class _Timex(ctypes.Structure):
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long),
                ("status", ctypes.c_int), ("rest", ctypes.c_long * 20)]


def clock_esterror(value: int | None = None) -> int:
    """The kernel clock's estimated error (set it to ``value`` first, which needs root)."""
    timex = _Timex(modes=0 if value is None else 0x0008, esterror=value or 0)
    if _libc.adjtimex(ctypes.byref(timex)) < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return int(timex.esterror)


def kernel_log() -> bytes:
    """Every record of the kernel log still in its buffer (empty when unreadable)."""
    try:
        fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return b""
    records = []
    try:
        while True:
            try:
                records.append(os.read(fd, 8192))
            except BlockingIOError:
                break
            except BrokenPipeError:
                continue
    finally:
        os.close(fd)
    return b"".join(records)


def log_to_kernel(line: str) -> bool:
    try:
        with open("/dev/kmsg", "w") as f:
            f.write(line + "\n")
    except OSError:
        return False
    return True


def loopback_addresses() -> str:
    try:
        return subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", "lo"],
                              capture_output=True, text=True, check=False,
                              timeout=WAIT_SECONDS).stdout
    except FileNotFoundError:
        return ""


def drop_loopback_address(address: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"],
                       capture_output=True, check=False, timeout=WAIT_SECONDS)
