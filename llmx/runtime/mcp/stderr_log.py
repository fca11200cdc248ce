"""Where a stdio server's stderr goes: its own file under the home's ``log`` folder.

A server's stderr is its log, not llmx's output (Codex sends it to its own log file);
kept here it is where a user looks when a server fails. Each server has one file,
``log/mcp/<server>.log``, bounded: past :data:`LOG_LIMIT` bytes the file becomes
``<server>.log.1`` (replacing the one before) and a new one starts. Every start of the
server adds a line saying when and what was started.

The server writes into a pipe that the event loop reads as data comes (no thread): the
file can then be bounded while the server runs, and what a server wrote just before it
died can be read at once when its failure is reported (:meth:`StderrLog.last_line`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from pathlib import Path
from typing import Any, TextIO

from llmx.events.home import FILE_MODE, ensure_private_dir

# The most a server's log file holds before it is set aside (one older file is kept).
LOG_LIMIT = 1 << 20
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_READ_SIZE = 1 << 16


def mcp_log_dir(home: Path) -> Path:
    return home / "log" / "mcp"


def stderr_log_path(log_dir: Path, server: str) -> Path:
    """The file of ``server``'s stderr (a name safe for a file: other characters are ``_``)."""
    return log_dir / f"{_UNSAFE.sub('_', server) or '_'}.log"


class StderrLog:
    """One start of one server: the pipe its stderr goes into and the file it fills."""

    def __init__(self, path: Path, *, limit: int = LOG_LIMIT) -> None:
        self.path = path
        self._limit = limit
        self._read_fd: int | None = None
        self._write: TextIO | None = None
        self._last = b""

    def open(self, started: str) -> TextIO | None:
        """The stream to give the server as its stderr, after a line saying what starts;
        None when the file cannot be written (the server's stderr is then dropped)."""
        try:
            ensure_private_dir(self.path.parent)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            self._append(f"--- {stamp} started: {started}\n".encode())
        except OSError:
            return None
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        self._read_fd = read_fd
        self._write = os.fdopen(write_fd, "w", encoding="utf-8")
        asyncio.get_running_loop().add_reader(read_fd, self._drain)
        return self._write

    def spawned(self) -> None:
        """The server runs with its own copy of the pipe: ours is closed, so the pipe
        ends when the server does."""
        if self._write is not None:
            self._write.close()
            self._write = None

    def last_line(self) -> str | None:
        """The last line the server wrote (what it wrote so far is read first)."""
        self._drain()
        text = self._last.decode("utf-8", "replace").strip()
        return text.splitlines()[-1] if text else None

    def close(self) -> None:
        """Read what is left, then stop reading."""
        self.spawned()
        self._drain()
        self._stop()

    def _drain(self) -> None:
        fd = self._read_fd
        if fd is None:
            return
        while True:
            try:
                chunk = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self._stop()
                return
            self._keep_tail(chunk)
            with contextlib.suppress(OSError):
                self._append(chunk)

    def _keep_tail(self, chunk: bytes) -> None:
        # Enough to hold the last line or so, without the trailing newline's help.
        lines = (self._last + chunk).rstrip(b"\n").rsplit(b"\n", 1)
        self._last = lines[-1][-4096:]

    def _stop(self) -> None:
        fd, self._read_fd = self._read_fd, None
        if fd is None:
            return
        with contextlib.suppress(RuntimeError, ValueError):
            asyncio.get_running_loop().remove_reader(fd)
        os.close(fd)

    def _append(self, data: bytes) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size and size + len(data) > self._limit:
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        try:
            os.write(fd, data[-self._limit:])
        finally:
            os.close(fd)


def describe_start(command: str, args: Any) -> str:
    return " ".join([command, *[str(arg) for arg in args]])
