"""Newline-delimited JSON over stdin and stdout.

stdout carries nothing but JSON objects, one per line (the SDK treats anything else as
fatal); logging goes to stderr. Writes are queued on the loop's pipe transport, so a
client that reads slowly holds back its own messages, not the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from typing import Any

import msgspec

# One message may carry an image as a data URL; far above any sane line, below a
# runaway one.
MAX_LINE_BYTES = 64 * 1024 * 1024
_encoder = msgspec.json.Encoder()


def encode_message(message: dict[str, Any]) -> bytes:
    """One wire line: compact JSON, UTF-8 unescaped (as serde writes it), and ``\\n``."""
    return _encoder.encode(message) + b"\n"


class StdioTransport:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls) -> StdioTransport:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=MAX_LINE_BYTES)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        writer: asyncio.StreamWriter | None = None
        try:
            transport, protocol = await loop.connect_write_pipe(
                asyncio.streams.FlowControlMixin, os.fdopen(os.dup(1), "wb", buffering=0)
            )
            writer = asyncio.StreamWriter(transport, protocol, None, loop)
        except ValueError:
            # stdout is a regular file (a test redirect): plain blocking writes will do.
            writer = None
        return cls(reader, writer)

    async def read_line(self) -> bytes | None:
        """The next line without its newline; None at end of input."""
        try:
            line = await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as partial:
            return partial.partial or None
        except asyncio.LimitOverrunError as exc:
            # Skip the oversized line whole; the caller reports it.
            await self._reader.readexactly(exc.consumed)
            return b""
        return line[:-1]

    def write(self, message: dict[str, Any]) -> None:
        data = encode_message(message)
        if self._writer is None:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        elif not self._writer.is_closing():
            self._writer.write(data)

    async def drain(self) -> None:
        if self._writer is not None and not self._writer.is_closing():
            # A client that went away reads nothing more; its end of input ends the server.
            with contextlib.suppress(ConnectionError):
                await self._writer.drain()

    async def close(self) -> None:
        if self._writer is not None:
            await self.drain()
            self._writer.close()
