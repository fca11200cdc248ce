"""The cheap parts of the exec path: the user-namespace probe and the init's PATH search."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.waits import WAIT_SECONDS

from llmx.sandbox.linux import kernel
from llmx.sandbox.linux.backends import BackendKind, backend_status

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

NAMESPACES = kernel.CLONE_NEWUSER | kernel.CLONE_NEWNS
CLONE_FS = 0x00000200


def _unshare_in_forked_child() -> int:
    """The slow way the probe replaces: errno of ``unshare`` in a forked child, 0 if it works."""
    code = (
        "import os\n"
        "from llmx.sandbox.linux import kernel\n"
        "try:\n"
        "    kernel.unshare(kernel.CLONE_NEWUSER | kernel.CLONE_NEWNS)\n"
        "except OSError as exc:\n"
        "    raise SystemExit(exc.errno)\n"
    )
    return subprocess.run([sys.executable, "-c", code], check=False,
                          timeout=WAIT_SECONDS).returncode


def test_clone_probe_agrees_with_unshare_in_a_child() -> None:
    expected = _unshare_in_forked_child()
    found = kernel.clone_probe(NAMESPACES)
    assert (found == 0) == (expected == 0), (found, expected)


def test_clone_probe_reports_the_kernel_refusal() -> None:
    # A new mount namespace cannot share the filesystem context (clone(2): EINVAL).
    assert kernel.clone_probe(kernel.CLONE_NEWNS | CLONE_FS) == errno.EINVAL


def test_clone_probe_leaves_no_child_behind() -> None:
    kernel.clone_probe(NAMESPACES)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def _own_backend() -> None:
    status = backend_status(BackendKind.NAMESPACES)
    if not status.available:
        pytest.skip(f"own backend unavailable: {status.reason}")


def _script(folder: Path, name: str, text: str, mode: int) -> None:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\necho {text}\n")
    path.chmod(mode)


def _run(tmp_path: Path, path: str, command: str) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "LLMX_HOME": str(home), "PATH": path}
    return subprocess.run([sys.executable, "-m", "llmx", "sandbox", "linux", "--", command],
                          cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
                          timeout=WAIT_SECONDS)


def test_path_search_skips_missing_folders_and_unexecutable_files(tmp_path: Path) -> None:
    _own_backend()
    _script(tmp_path / "first", "llmx-probe-cmd", "first", 0o644)
    _script(tmp_path / "second", "llmx-probe-cmd", "second", 0o755)
    path = os.pathsep.join([str(tmp_path / "missing"), str(tmp_path / "first" / "file"),
                            str(tmp_path / "first"), str(tmp_path / "second"), "/usr/bin:/bin"])
    result = _run(tmp_path, path, "llmx-probe-cmd")
    assert (result.returncode, result.stdout) == (0, "second\n"), result.stderr


def test_path_search_reports_permission_over_absence(tmp_path: Path) -> None:
    # execvp's rule: a name found but not executable is 126, even if later folders lack it.
    _own_backend()
    _script(tmp_path / "first", "llmx-probe-cmd", "first", 0o644)
    path = os.pathsep.join([str(tmp_path / "first"), str(tmp_path / "missing"), "/usr/bin:/bin"])
    result = _run(tmp_path, path, "llmx-probe-cmd")
    if os.geteuid() == 0 and result.returncode == 0:
        pytest.skip("root may execute a file without any execute bit on this filesystem")
    assert result.returncode == 126
    assert "cannot run llmx-probe-cmd: Permission denied" in result.stderr


def test_path_search_missing_everywhere_is_127(tmp_path: Path) -> None:
    _own_backend()
    result = _run(tmp_path, os.pathsep.join([str(tmp_path / "a"), "/usr/bin:/bin"]),
                  "llmx-no-such-command")
    assert result.returncode == 127
    assert "cannot run llmx-no-such-command: No such file or directory" in result.stderr


@pytest.mark.parametrize(("words", "written"), [
    (["--", "touch", "made.txt"], False),  # read-only by default
    (["--full-auto", "--", "touch", "made.txt"], True),
    (["-s", "workspace-write", "touch", "made.txt"], True),
], ids=["default", "full-auto", "workspace-write"])
def test_codex_s_form_without_a_platform_word_runs_the_linux_sandbox(
    tmp_path: Path, words: list[str], written: bool
) -> None:
    # Codex 0.169: ``codex sandbox [OPTIONS] COMMAND`` is its Linux sandbox.
    _own_backend()
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run([sys.executable, "-m", "llmx", "sandbox", *words], cwd=work,
                          env={**os.environ, "LLMX_HOME": str(home)}, capture_output=True,
                          text=True, check=False, timeout=WAIT_SECONDS)
    assert (done.returncode == 0) == written, done.stderr
    assert (work / "made.txt").exists() == written
    if not written:
        assert "Read-only file system" in done.stderr
