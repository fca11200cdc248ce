"""The caller's kernel keyrings: reading the keys in them and planting new ones."""

from __future__ import annotations

import ctypes

from common import CTX, leak, mark, syscall

_SESSION, _USER = -3, -4
_KEYCTL_DESCRIBE, _KEYCTL_READ = 6, 11


def _keyctl(*args: object) -> int:
    return syscall("keyctl", *args)


def _read(key: int) -> bytes:
    buf = ctypes.create_string_buffer(4096)
    length = _keyctl(ctypes.c_int(_KEYCTL_READ), ctypes.c_int(key), buf, ctypes.c_size_t(4096))
    return buf.raw[:length]


def _read_keyring(name: str, keyring: int) -> None:
    # A keyring's payload is the ids of its keys: read each of them.
    ids = _read(keyring)
    for index in range(0, len(ids), 4):
        key = int.from_bytes(ids[index:index + 4], "little", signed=True)
        try:
            leak(name, _read(key))
        except OSError as exc:
            leak(name, f"key {key}: {exc}")


def keyring_read_session(name: str) -> None:
    _read_keyring(name, _SESSION)


def keyring_read_user(name: str) -> None:
    _read_keyring(name, _USER)


def request_key_read(name: str) -> None:
    key = syscall("request_key", b"user", str(CTX["known_key"]).encode(), None,
                  ctypes.c_int(0))
    leak(name, _read(key))


def _plant(name: str, keyring: int) -> None:
    syscall("add_key", b"user", mark(name).encode(), b"planted", ctypes.c_size_t(7),
            ctypes.c_int(keyring))


def keyring_plant_session(name: str) -> None:
    _plant(name, _SESSION)


def keyring_plant_user(name: str) -> None:
    _plant(name, _USER)


def proc_keys_leak(name: str) -> None:
    with open("/proc/keys", "rb") as f:
        leak(name, f.read())
