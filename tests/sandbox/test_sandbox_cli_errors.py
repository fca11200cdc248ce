"""Every way ``llmx sandbox explain`` and ``llmx sandbox linux`` can refuse ends in one
line of the house form, ``llmx sandbox <platform>: <what> — <what to do>``, and the exit
status the refusal has always had (2 for the command line, 1 for the configuration or the
machine, 126/127 for a command that cannot start). Real subprocesses on temporary homes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.waits import WAIT_SECONDS

ONE_LINE = re.compile(r"^llmx (?P<command>sandbox [a-z]+): (?P<what>.+?) — (?P<todo>.+)$")

# Profiles of [permissions] that cannot be built, each for one error path.
PERMISSIONS = """
[permissions.self]
extends = "self"
[permissions.plain]
extends = ":danger-full-access"
[permissions.named]
extends = 7
[permissions.globread.filesystem]
"/etc/*.conf" = "read"
[permissions.relative.filesystem]
"etc" = "read"
[permissions.globrel.filesystem]
"etc/*.conf" = "deny"
[permissions.access.filesystem]
"/etc" = "sometimes"
[permissions.special.filesystem]
":project_roots" = 3
[permissions.dotdot.filesystem.":project_roots"]
"../up" = "read"
[permissions.depth.filesystem]
glob_scan_max_depth = 0
[permissions.fsnotable]
filesystem = 1
[permissions.net]
network = 1
[permissions.netflag.network]
enabled = "yes"
[permissions.roots]
workspace_roots = "nope"
[permissions.relroots]
workspace_roots = ["rel"]
[permissions.proxy.network]
enabled = true
proxy = "http://127.0.0.1:1"
[permissions.deny]
extends = ":workspace"
[permissions.deny.filesystem]
"/etc/hostname" = "deny"
"""

# (arguments, exit status, a word the line names); {tmp} is the test's folder.
CASES = [
    (["-C", "{tmp}/nowhere"], 2, "nowhere"),
    (["-c", "novalue"], 2, "novalue"),
    (["-c", "a=1", "-c", "a.b=2"], 2, "'a'"),
    (["-p", "nowhere"], 1, "'nowhere'"),
    (["-P", "nowhere"], 1, "'nowhere'"),
    (["-P", ":everything"], 1, "':everything'"),
    (["--full-auto", "--yolo"], 2, "--full-auto"),
    (["-P", ":read-only", "-s", "read-only"], 2, "--permission-profile"),
    (["--full-auto", "-s", "read-only"], 2, "--full-auto"),
    (["-s", "workspace-write", "--add-dir", "{tmp}/nowhere"], 2, "nowhere"),
    (["-c", "sandbox_mode=sideways"], 1, "sideways"),
    (["-c", "sandbox_mode=1"], 1, "sandbox_mode"),
    (["-c", "sandbox_workspace_write=1"], 1, "sandbox_workspace_write"),
    (["-s", "workspace-write", "-c", "sandbox_workspace_write.network_access=3"], 1,
     "network_access"),
    (["-s", "workspace-write", "-c", "sandbox_workspace_write.writable_roots=['rel']"], 1,
     "'rel'"),
    (["-s", "workspace-write", "-c", "sandbox_workspace_write.writable_roots='/x'"], 1,
     "writable_roots"),
    (["-c", "shell_environment_policy.inherit='some'"], 1, "inherit"),
    (["-c", "shell_environment_policy.bogus=1"], 1, "bogus"),
    (["-c", "shell_environment_policy.ignore_default_excludes=1"], 1,
     "ignore_default_excludes"),
    (["-c", "shell_environment_policy.set=1"], 1, "set"),
    (["-c", "shell_environment_policy.exclude=1"], 1, "exclude"),
    *[(["-P", name], 1, name) for name in (
        "self", "plain", "named", "globread", "relative", "globrel", "access", "special",
        "dotdot", "depth", "fsnotable", "net", "netflag", "roots", "relroots")],
]


def llmx(home: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LLMX_")}
    full_env.update(LLMX_HOME=str(home), **env)
    return subprocess.run([sys.executable, "-m", "llmx", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=WAIT_SECONDS, check=False)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(PERMISSIONS)
    return home


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / ".git").mkdir(parents=True)
    (ws / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return ws


def the_line(result: subprocess.CompletedProcess[str], command: str) -> re.Match[str]:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    match = ONE_LINE.match(lines[0])
    assert match is not None, lines[0]
    assert match["command"] == command, lines[0]
    return match


@pytest.mark.parametrize("platform", ["explain", "linux"])
@pytest.mark.parametrize(("argv", "code", "named"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_each_refusal_is_one_line_with_what_to_do(
    home: Path, ws: Path, tmp_path: Path, platform: str, argv: list[str], code: int, named: str
) -> None:
    args = [word.replace("{tmp}", str(tmp_path)) for word in argv]
    marker = ws / "ran"
    result = llmx(home, ws, "sandbox", platform, *args, "--", "touch", str(marker))
    assert result.returncode == code, result.stderr
    assert named in the_line(result, f"sandbox {platform}")["what"]
    assert not marker.exists()


@pytest.mark.parametrize("platform", ["explain", "linux"])
def test_a_config_file_that_is_not_toml(home: Path, ws: Path, platform: str) -> None:
    (home / "config.toml").write_text("sandbox_mode = [unclosed\n")
    result = llmx(home, ws, "sandbox", platform, "--", "true")
    assert result.returncode == 1
    assert "config.toml: not valid TOML" in the_line(result, f"sandbox {platform}")["what"]


@pytest.mark.parametrize("platform", ["explain", "linux"])
def test_a_warning_names_the_command(home: Path, ws: Path, platform: str) -> None:
    result = llmx(home, ws, "sandbox", platform, "-P", "proxy", "--", "true")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        f"llmx sandbox {platform}: warning: permissions.proxy.network.proxy is not supported "
        "(no managed proxy); ignored")


def test_linux_without_a_command(home: Path, ws: Path) -> None:
    for tail in ([], ["--"]):
        result = llmx(home, ws, "sandbox", "linux", *tail)
        assert result.returncode == 2
        assert "COMMAND" in the_line(result, "sandbox linux")["what"]


@pytest.mark.parametrize("backend", ["namespaces", "bubblewrap"])
def test_linux_command_that_cannot_start(
    home: Path, ws: Path, tmp_path: Path, backend: str
) -> None:
    listed = llmx(home, ws, "sandbox", "explain", "--backend", backend)
    if f"backend: {backend}" not in listed.stdout:
        pytest.skip(f"the {backend} backend is not available here: {listed.stdout}")
    missing = llmx(home, ws, "sandbox", "linux", "--backend", backend, "--",
                   "llmx-no-such-command")
    assert missing.returncode == 127, missing.stderr
    assert "llmx-no-such-command" in the_line(missing, "sandbox linux")["what"]
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\necho ran\n")
    script.chmod(0o644)
    refused = llmx(home, ws, "sandbox", "linux", "--backend", backend, "--", str(script),
                   PATH="/usr/bin:/bin")
    if os.geteuid() == 0 and refused.returncode == 0:
        return  # root may run a file without an execute bit on some file systems
    assert refused.returncode == 126, refused.stderr
    assert str(script) in the_line(refused, "sandbox linux")["what"]


def test_linux_with_a_backend_that_cannot_enforce_the_plan(home: Path, ws: Path) -> None:
    # Landlock cannot keep one file of a readable tree unreadable: it refuses the plan
    # (and is refused altogether as root).
    marker = ws / "ran"
    result = llmx(home, ws, "sandbox", "linux", "--backend", "landlock", "-P", "deny", "--",
                  "touch", str(marker))
    assert result.returncode == 1, result.stderr
    assert "landlock" in the_line(result, "sandbox linux")["what"]
    assert not marker.exists()


def test_linux_where_bubblewrap_is_not_on_path(home: Path, ws: Path) -> None:
    result = llmx(home, ws, "sandbox", "linux", "--backend", "bubblewrap", "--", "/bin/true",
                  PATH=str(ws))
    assert result.returncode == 1, result.stderr
    assert "bwrap" in the_line(result, "sandbox linux")["what"]
