"""``llmx mcp list|get|add|remove``: editing ``[mcp_servers]`` the way ``codex mcp`` does,
keeping the rest of ``config.toml`` (comments, other tables, layout) as it was."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from support.waits import WAIT_SECONDS

ORIGINAL = (
    "# my settings\n"
    'model = "mock-model"  # the model\n'
    "\n"
    "[mcp_servers.old]\n"
    "# started by hand\n"
    'command = "old-cmd"\n'
    "\n"
    "[tui]\n"
    "animations = false\n"
)


def _mcp(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMX_")}
    env["LLMX_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "llmx", "mcp", *args], capture_output=True,
                          text=True, env=env, timeout=WAIT_SECONDS, check=False)


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(ORIGINAL)
    os.chmod(home / "config.toml", 0o640)
    return home


def test_add_and_remove_keep_the_rest_of_the_file(tmp_path: Path) -> None:
    home = _home(tmp_path)
    added = _mcp(home, "add", "calc", "--env", "A=1", "--", "python3", "srv.py", "--stdio")
    assert added.returncode == 0, added.stderr
    assert added.stdout == "Added global MCP server 'calc'.\n"
    web = _mcp(home, "add", "web", "--url", "http://127.0.0.1:9/mcp",
               "--bearer-token-env-var", "TOKEN")
    assert web.returncode == 0, web.stderr
    text = (home / "config.toml").read_text()
    assert text.startswith(ORIGINAL.split("[tui]")[0])
    assert "# started by hand\n" in text
    assert text.endswith("[tui]\nanimations = false\n")
    assert ('[mcp_servers.calc]\ncommand = "python3"\nargs = ["srv.py", "--stdio"]\n\n'
            '[mcp_servers.calc.env]\nA = "1"\n') in text
    assert ('[mcp_servers.web]\nurl = "http://127.0.0.1:9/mcp"\n'
            'bearer_token_env_var = "TOKEN"\n') in text
    assert stat.S_IMODE((home / "config.toml").stat().st_mode) == 0o640
    for name in ("calc", "web"):
        removed = _mcp(home, "remove", name)
        assert removed.stdout == f"Removed global MCP server '{name}'.\n"
    assert (home / "config.toml").read_text() == ORIGINAL
    again = _mcp(home, "remove", "web")
    assert (again.returncode, again.stdout) == (0, "No MCP server named 'web' found.\n")


def test_list_and_get_as_text_and_json(tmp_path: Path) -> None:
    home = _home(tmp_path)
    _mcp(home, "add", "calc", "--env", "SECRET=x", "--", "python3", "srv.py")
    _mcp(home, "add", "web", "--url", "http://127.0.0.1:9/mcp")
    listed = _mcp(home, "list")
    assert listed.returncode == 0, listed.stderr
    stdio, http = listed.stdout.split("\n\n")
    assert stdio.splitlines()[0].split() == ["Name", "Command", "Args", "Env", "Cwd", "Status",
                                             "Auth"]
    assert stdio.splitlines()[1].split() == ["calc", "python3", "srv.py", "SECRET=*****", "-",
                                             "enabled", "Unsupported"]
    assert "x" not in stdio.splitlines()[1].split()
    assert http.splitlines()[1].split()[:2] == ["web", "http://127.0.0.1:9/mcp"]
    as_json = json.loads(_mcp(home, "list", "--json").stdout)
    assert [server["name"] for server in as_json] == ["calc", "old", "web"]
    assert as_json[0]["transport"] == {"type": "stdio", "command": "python3", "args": ["srv.py"],
                                       "env": {"SECRET": "x"}, "env_vars": [], "cwd": None}
    assert as_json[2]["transport"]["type"] == "streamable_http"
    got = _mcp(home, "get", "web")
    assert got.stdout.splitlines()[:3] == ["web", "  enabled: true",
                                           "  transport: streamable_http"]
    assert json.loads(_mcp(home, "get", "calc", "--json").stdout)["name"] == "calc"


def test_bad_input_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    home = _home(tmp_path)
    # A command line Codex's parser refuses exits 2 (as every usage error), the rest 1.
    cases = [
        (("get", "nope"), 1, "llmx mcp get: no MCP server named `nope` — `llmx mcp list` "
                             "shows the configured ones"),
        (("add", "bad name", "--", "x"), 1, "llmx mcp add: invalid server name `bad name` — "
                                            "use letters, numbers, '-', '_', ':', '@', '/', '.'"),
        (("add", "x"), 2, "llmx mcp add: a command is required — llmx mcp add NAME -- COMMAND "
                          "[ARGS...], or --url URL"),
        (("add", "x", "--url", "http://127.0.0.1:9/mcp", "--env", "A=1"), 1,
         "llmx mcp add: --env is only for stdio servers — pass the variables the HTTP server "
         "needs to it yourself"),
        (("add", "x", "--env", "A", "--", "cmd"), 2,
         "llmx mcp add: --env A: environment entries must be in KEY=VALUE form — write it as "
         "--env KEY=VALUE"),
        (("add", "x", "--url", "http://127.0.0.1:9/mcp", "--", "cmd"), 2,
         "llmx mcp add: give either --url or a command after --, not both — drop one of them"),
        (("add", "x", "--bearer-token-env-var", "T", "--", "cmd"), 2,
         "llmx mcp add: --bearer-token-env-var is only for streamable HTTP servers — use it "
         "with --url"),
    ]
    for args, code, line in cases:
        result = _mcp(home, *args)
        assert result.returncode == code, args
        assert result.stderr == line + "\n"
    assert (home / "config.toml").read_text() == ORIGINAL
    (home / "config.toml").write_text("[mcp_servers.x]\nurl = 'http://a'\ncommand = 'c'\n")
    refused = _mcp(home, "list")
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"llmx mcp list: {home / 'config.toml'}:1: mcp_servers.x: "
                                     "url is not supported for stdio")
