"""Configuring the SDK-built test MCP server (tests/support/mcp/calc_server.py) for llmx."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

CALC_SERVER = Path(__file__).resolve().parent.parent / "support" / "mcp" / "calc_server.py"


def stdio_table(name: str = "calc", **keys: object) -> str:
    """A ``[mcp_servers.NAME]`` table running the calc server over stdio."""
    table = {"command": sys.executable, "args": [str(CALC_SERVER), "stdio"], **keys}
    return _table(name, table)


def http_table(url: str, name: str = "calc", **keys: object) -> str:
    return _table(name, {"url": url, **keys})


def _table(name: str, keys: dict[str, object]) -> str:
    lines = [f"[mcp_servers.{name}]"]
    for key, value in keys.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
            lines.append(f"{key} = {{ {inner} }}")
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def http_server(env: dict[str, str] | None = None) -> Iterator[str]:
    """The calc server over streamable HTTP on loopback; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(CALC_SERVER), "http", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the calc server did not start listening")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)
