"""A stdio MCP server's stderr is kept in the home's ``log/mcp/<server>.log`` (not shown in
llmx's output), bounded, and named when the server fails to start; the SDK-built calc
server writes a line to its stderr as it starts, and can exit at once."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from e2e.exec_harness import make_env
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import WAIT_SECONDS

from llmx.runtime.mcp.config import parse_server
from llmx.runtime.mcp.connections import McpConnections
from llmx.runtime.mcp.stderr_log import StderrLog, stderr_log_path
from mcp_tests.mcp_harness import CALC_SERVER, stdio_table

SAID = "calc: reading the launch codes"


def _script() -> Script:
    return Script.from_json({"turns": [[{"type": "message", "text": "Done."}]]})


def test_a_servers_stderr_is_kept_in_its_log_file(tmp_path: Path) -> None:
    with ModelServer(_script()) as server:
        env = make_env(tmp_path, server.base_url, config_extra=stdio_table(
            required=True, env={"CALC_STDERR": SAID}))
        first = env.run("hello")
        second = env.run("hello again")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert SAID not in first.stderr
    log = env.home / "log" / "mcp" / "calc.log"
    lines = log.read_text().splitlines()
    # Each start is announced, with what was started, then what the server wrote.
    starts = [line for line in lines if line.startswith("--- ")]
    assert len(starts) == 2
    assert all(f"started: {sys.executable} " in line and line.endswith(" stdio")
               for line in starts)
    assert lines.count(SAID) == 2
    assert log.stat().st_mode & 0o777 == 0o600
    assert log.parent.stat().st_mode & 0o777 == 0o700


def test_a_required_server_that_crashes_at_start_names_its_log(tmp_path: Path) -> None:
    with ModelServer(_script()) as server:
        env = make_env(tmp_path, server.base_url, config_extra=stdio_table(
            required=True,
            env={"CALC_STDERR": "calc: no launch codes", "CALC_CRASH_AT_START": "1"}))
        live = env.run("hello")
    assert live.returncode == 1
    log = env.home / "log" / "mcp" / "calc.log"
    [line] = [line for line in live.stderr.splitlines() if "MCP server" in line]
    assert line.startswith("llmx exec: MCP server `calc` is required but did not start: ")
    assert f"(stderr: calc: no launch codes; its stderr is in {log})" in line
    assert "Traceback" not in live.stderr
    assert log.read_text().splitlines()[-1] == "calc: no launch codes"


@pytest.mark.asyncio
async def test_an_optional_server_that_crashes_at_start_names_its_log(tmp_path: Path) -> None:
    config = parse_server("calc", {
        "command": sys.executable, "args": [str(CALC_SERVER), "stdio"],
        "env": {"CALC_STDERR": "calc: no launch codes", "CALC_CRASH_AT_START": "1"}})
    connections = McpConnections({"calc": config}, cwd=tmp_path, log_dir=tmp_path / "log")
    connections.start()
    try:
        server = connections.servers["calc"]
        await asyncio.wait_for(server.started.wait(), WAIT_SECONDS)  # bounded by wait_for
    finally:
        await connections.close()
    assert server.has_failed()
    log = tmp_path / "log" / "calc.log"
    assert server.error is not None
    assert server.error.endswith(f"(stderr: calc: no launch codes; its stderr is in {log})")


def test_a_servers_name_is_made_safe_for_a_file_name(tmp_path: Path) -> None:
    assert stderr_log_path(tmp_path, "../a b") == tmp_path / ".._a_b.log"
    assert stderr_log_path(tmp_path, "docs-1") == tmp_path / "docs-1.log"


@pytest.mark.asyncio
async def test_the_log_is_bounded_with_one_older_file(tmp_path: Path) -> None:
    path = tmp_path / "log" / "mcp" / "chatty.log"
    log = StderrLog(path, limit=1000)
    errlog = log.open("chatty")
    assert errlog is not None
    # A real process writing 40 lines of 100 bytes to the stderr it was given.
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c",
        "import sys\nfor i in range(40): sys.stderr.write(f'{i:03d}' + 'x' * 96 + '\\n')",
        stderr=errlog)
    log.spawned()
    assert await asyncio.wait_for(process.wait(), WAIT_SECONDS) == 0  # bounded by wait_for
    assert log.last_line() == "039" + "x" * 96
    log.close()
    older = path.with_name("chatty.log.1")
    assert path.stat().st_size <= 1000
    assert older.stat().st_size <= 1000
    assert path.read_text().splitlines()[-1].startswith("039")
    assert not path.with_name("chatty.log.2").exists()
