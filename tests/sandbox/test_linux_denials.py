"""Denial verdicts and findings, on output written by real confined commands."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from support import CODEX_FIXTURES
from support.linux_sandbox import PYTHON, protected, workspace_plan
from support.waits import within

from llmx.sandbox.linux.denials import (
    SIGSYS_EXIT,
    DenialKind,
    detect_denial,
    find_denials,
    format_denials,
)
from llmx.sandbox.linux.spawn import run_confined


def test_codex_probe_transcript_lines_are_denials() -> None:
    transcript = (CODEX_FIXTURES / "sandbox" / "sandbox_probes.txt").read_bytes()
    findings = find_denials(transcript)
    paths = {f.path for f in findings}
    assert {"/tmp/x", "./x", "/home/dev/x"} <= paths
    assert any(f.kind is DenialKind.OPERATION_NOT_PERMITTED for f in findings)


@pytest.mark.parametrize(
    ("code", "output", "expected"),
    [
        (0, b"Read-only file system", None),
        (1, b"touch: cannot touch 'x': Read-only file system", DenialKind.READ_ONLY_FILESYSTEM),
        (2, b"usage: foo", None),
        (127, b"sh: 1: nope: not found", None),
        (126, b"sh: ./x: Permission denied", DenialKind.PERMISSION_DENIED),
        (SIGSYS_EXIT, b"", DenialKind.SIGSYS),
        (1, b"plain failure", None),
    ],
)
def test_verdict_follows_the_codex_heuristic(code: int, output: bytes,
                                             expected: DenialKind | None) -> None:
    assert detect_denial(code, output) is expected


def test_real_refusals_are_found_with_their_paths(tmp_path: Path) -> None:
    script = ("import socket, os\n"
              "for p in ('/etc/llmx-denied', '.git/config'):\n"
              "    try: open(p, 'a')\n"
              "    except OSError as e: print(e)\n"
              "try: socket.socket()\n"
              "except OSError as e: print(e)\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("")
    result = asyncio.run(within(
        run_confined([PYTHON, "-I", "-S", "-c", script + "raise SystemExit(1)"], cwd=tmp_path,
                     plan=workspace_plan(protected(tmp_path))), "the probe"))
    assert result.denied is DenialKind.READ_ONLY_FILESYSTEM
    findings = find_denials(result.aggregated)
    assert [f.path for f in findings if f.kind is DenialKind.READ_ONLY_FILESYSTEM] == [
        "/etc/llmx-denied", ".git/config"]
    assert any(f.kind is DenialKind.OPERATION_NOT_PERMITTED for f in findings)
    lines = format_denials(findings)
    assert "denied (read-only file system): /etc/llmx-denied" in lines


@pytest.mark.parametrize(
    ("line", "path"),
    [
        (b"touch: cannot touch 'y': Read-only file system", "y"),
        (b"mkdir: cannot create directory \xe2\x80\x98out\xe2\x80\x99: Read-only file system",
         "out"),
        (b"sh: 1: cannot create y: Read-only file system", "y"),
        (b"[Errno 30] Read-only file system: 'notes.txt'", "notes.txt"),
        (b"bash: line 1: sub/dir/f: Permission denied", None),
    ],
)
def test_bare_relative_paths_are_found(line: bytes, path: str | None) -> None:
    findings = find_denials(line)
    assert len(findings) == 1
    # An unquoted relative operand with a slash and no ./ is not told apart from prose.
    assert findings[0].path == path


def test_real_refusals_of_bare_names(tmp_path: Path) -> None:
    script = "touch y; mkdir out; echo x > z; exit 1"
    result = asyncio.run(within(run_confined(["sh", "-c", script], cwd=tmp_path,
                                             plan=workspace_plan()), "the probe"))
    assert result.denied is DenialKind.READ_ONLY_FILESYSTEM, result.aggregated
    paths = {f.path for f in find_denials(result.aggregated)}
    assert {"y", "out", "z"} <= paths, result.aggregated
