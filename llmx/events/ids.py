"""Thread ids (UUIDv7) and the UTC timestamp format Codex puts on every rollout line."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime


def new_thread_id(unix_ms: int | None = None) -> str:
    """A UUIDv7 string: 48 bits of milliseconds, then random bits.

    Time-ordered ids sort files and index rows by creation without a second key, which is
    why Codex switched from UUIDv4; Python 3.11 has no ``uuid.uuid7``.
    """
    millis = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a = rand >> 68  # 12 bits
    rand_b = rand & ((1 << 62) - 1)  # 62 bits
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= rand_a << 64
    value |= 0b10 << 62
    value |= rand_b
    return str(uuid.UUID(int=value))


_second_cache: list[object] = [-1, ""]


def format_timestamp(moment: datetime | None = None) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC, the form of every line's ``timestamp``."""
    if moment is None:
        # The writer stamps every line: format the seconds once per second.
        now_ms = time.time_ns() // 1_000_000
        second, millis = divmod(now_ms, 1000)
        if _second_cache[0] != second:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
            _second_cache[0], _second_cache[1] = second, stamp
        return f"{_second_cache[1]}{millis:03d}Z"
    when = moment.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
