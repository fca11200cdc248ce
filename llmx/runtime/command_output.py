"""A running command's output, streamed as Codex's ``exec_command_output_delta`` events.

Each piece carries the call id, the stream (``stdout``/``stderr``) and the raw bytes in
base64, as Codex sends them; frontends show them while the command runs (the app-server's
``item/commandExecution/outputDelta``, the TUI's live command cell). The completed item
still carries the whole output: deltas are for display only, published always and
persisted only with ``[rollout] persist_deltas`` (Codex never persists them).

Pieces end at a line break where one arrives: the event log redacts each piece's bytes
before anyone sees them, and a secret cut in two by a piece boundary would escape that.
A line longer than ``MAX_DELTA_BYTES`` is sent in pieces of that size, cut at a UTF-8
character boundary. As in Codex, at most ``MAX_DELTAS_PER_CALL`` pieces go out for one
command; its output is still collected whole.
"""

from __future__ import annotations

import base64

from llmx.events.event_msgs import ExecCommandOutputDelta
from llmx.runtime.tool_context import ToolContext

MAX_DELTA_BYTES = 8192
MAX_DELTAS_PER_CALL = 10_000


class CommandOutputDeltas:
    """The ``on_output`` of one command run: buffers each stream to line ends."""

    def __init__(self, tools: ToolContext, call_id: str) -> None:
        self._tools = tools
        self._call_id = call_id
        self._pending: dict[str, bytes] = {}
        self._sent = 0

    async def __call__(self, stream: str, chunk: bytes) -> None:
        data = self._pending.pop(stream, b"") + chunk
        end = data.rfind(b"\n") + 1
        if len(data) - end >= MAX_DELTA_BYTES:
            end = len(data)
        if end < len(data):
            self._pending[stream] = data[end:]
        await self._send(stream, data[:end])

    async def flush(self) -> None:
        """Send what is left of each stream (the command has ended)."""
        pending, self._pending = self._pending, {}
        for stream, data in pending.items():
            await self._send(stream, data)

    async def _send(self, stream: str, data: bytes) -> None:
        while data and self._sent < MAX_DELTAS_PER_CALL:
            piece = data[:MAX_DELTA_BYTES]
            if len(data) > MAX_DELTA_BYTES:
                line_end = piece.rfind(b"\n") + 1
                piece = piece[:line_end or _utf8_cut(piece)]
            data = data[len(piece):]
            self._sent += 1
            await self._tools.record(ExecCommandOutputDelta(
                call_id=self._call_id, stream=stream,
                chunk=base64.b64encode(piece).decode("ascii"),
            ))


def _utf8_cut(data: bytes) -> int:
    """How much of ``data`` (a full piece) to send so no character is split."""
    for back in range(1, 4):
        if len(data) < back:
            break
        byte = data[-back]
        if byte & 0xC0 != 0x80:
            # A lead byte: its character is whole only if it needs no more than ``back``.
            needed = 4 if byte >= 0xF0 else 3 if byte >= 0xE0 else 2 if byte >= 0xC0 else 1
            return len(data) if needed <= back else len(data) - back
    return len(data)


class HeldOutput:
    """Holds a command's output until its item has begun, then passes it on in order.

    A sandboxed command's start is told only after ``EARLY_EXIT_MS`` (see
    ``unified_exec.run_or_keep``); what it printed before then waits here, so no delta
    precedes its item, and a start the sandbox refused sends none at all."""

    def __init__(self, sink: CommandOutputDeltas) -> None:
        self._sink = sink
        self._held: list[tuple[str, bytes]] = []
        self.is_open = False

    async def __call__(self, stream: str, chunk: bytes) -> None:
        if self.is_open:
            await self._sink(stream, chunk)
        else:
            self._held.append((stream, chunk))

    async def open(self) -> None:
        """Pass on what was held (chunks that arrive meanwhile join the queue), then
        every later chunk directly."""
        while self._held:
            stream, chunk = self._held.pop(0)
            await self._sink(stream, chunk)
        self.is_open = True
