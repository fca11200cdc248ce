"""The MCP SDK is the cost of threads with servers only: an exec run without
``[mcp_servers]`` never imports it (nor tomlkit, which only ``llmx mcp`` uses); the same
run with a server does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from e2e.exec_harness import make_env
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import WAIT_SECONDS

from mcp_tests.mcp_harness import stdio_table


def _imported(env_dir: Path, config_extra: str) -> set[str]:
    with ModelServer(Script.from_json({"fallback": [{"type": "message", "text": "hi"}],
                                       "turns": []})) as server:
        env_dir.mkdir()
        env = make_env(env_dir, server.base_url, config_extra=config_extra)
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "llmx", "exec", "say hi"],
            cwd=env.workspace, env=env.env(), capture_output=True, text=True,
            timeout=WAIT_SECONDS, stdin=subprocess.DEVNULL, check=False,
        )
    assert result.returncode == 0, result.stderr
    return {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
            if line.startswith("import time:")}


def test_exec_without_servers_never_imports_the_sdk(tmp_path: Path) -> None:
    without = _imported(tmp_path / "plain", "")
    # (anyio comes with httpx, the model client's.)
    assert {"mcp", "mcp_types", "tomlkit"} & without == set()
    with_server = _imported(tmp_path / "served", stdio_table(required=True))
    assert {"mcp", "mcp_types"} <= with_server
