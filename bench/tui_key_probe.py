"""``llmx`` with timing probes, for the in-process part of bench_tui's keystroke measure.

Run as ``python bench/tui_key_probe.py OUT.json [llmx arguments]``: the real program in
the real terminal, with three timestamps per printable key typed into the composer:

- ``read``: Textual's input thread has parsed the key from the terminal;
- ``handled``: the composer has taken it (its text changed);
- ``written``: the first frame after that was handed to the terminal's writer.

``written - read`` is the app's keystroke-to-screen latency; the clock is
``time.perf_counter`` (CLOCK_MONOTONIC, the same in every process of the machine), so
the bench can also measure from the moment it sent the key. Keys are matched in order:
Textual handles them in the order they arrive. When the program ends the keys are
written to OUT.json as ``[character, read, handled, written]`` lists.
"""

from __future__ import annotations

import atexit
import json
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

from llmx.cli.tui.launch import load_textual

# Textual as llmx loads it (its screen clock is set then), before the probes import it.
load_textual()

from textual import events  # noqa: E402
from textual.drivers.linux_driver import LinuxDriver  # noqa: E402

from llmx.cli.tui.composer import Composer  # noqa: E402

OUT = Path(sys.argv[1])
# Keys read and not handled yet, handled and not written yet, and every key done.
_read: deque[list[Any]] = deque()
_handled: list[list[Any]] = []
_done: list[list[Any]] = []

_process_message = LinuxDriver.process_message
_write = LinuxDriver.write
_on_key = Composer._on_key


def process_message(self: LinuxDriver, message: Any) -> None:
    if isinstance(message, events.Key) and message.is_printable and message.character:
        _read.append([message.character, time.perf_counter(), None, None])
    _process_message(self, message)


def write(self: LinuxDriver, data: str) -> None:
    _write(self, data)
    if _handled:
        now = time.perf_counter()
        for key in _handled:
            key[3] = now
        _done.extend(_handled)
        _handled.clear()


async def on_key(self: Composer, event: events.Key) -> None:
    before = self.text
    await _on_key(self, event)
    if self.text != before and _read and event.character == _read[0][0]:
        key = _read.popleft()
        key[2] = time.perf_counter()
        _handled.append(key)


def save() -> None:
    OUT.write_text(json.dumps(_done))


LinuxDriver.process_message = process_message  # type: ignore[method-assign]
LinuxDriver.write = write  # type: ignore[method-assign]
Composer._on_key = on_key  # type: ignore[method-assign]
atexit.register(save)

if __name__ == "__main__":
    from llmx.cli.main import main

    raise SystemExit(main(sys.argv[2:]))
