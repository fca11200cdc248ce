"""The real Codex CLI as a peer in tests: where it is, and how to run it on a shared home.

Needs the Codex CLI binary, which the default run does not install (a 300 MB download):
point ``LLMX_CODEX_BIN`` at it, or have ``codex`` on ``PATH`` (``npm i @openai/codex``).
``scripts/check`` installs it when npm is there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support.waits import WAIT_SECONDS


def codex_binary() -> str | None:
    configured = os.environ.get("LLMX_CODEX_BIN")
    if configured:
        return configured
    return shutil.which("codex")


CODEX = codex_binary()
needs_codex = pytest.mark.skipif(
    CODEX is None,
    reason="the Codex CLI is not installed (set LLMX_CODEX_BIN or put codex on PATH)",
)


def run_codex(
    *args: str, home: Path, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``codex ARGS`` with ``home`` as its ``CODEX_HOME`` (the layout of ``LLMX_HOME``, so
    both programs can share one)."""
    assert CODEX is not None
    return subprocess.run(
        [CODEX, *args], cwd=cwd, env={**env, "CODEX_HOME": str(home)},
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=WAIT_SECONDS,
        check=False,
    )
