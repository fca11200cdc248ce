"""Shared helpers for the test suite (paths to the reference fixtures kept in the repository)."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# What the real Codex CLI wrote and sent, copied into the repository (see
# tests/fixtures/README.md) so that a lone clone runs the whole suite. Tests never edit it.
FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
CODEX_FIXTURES = FIXTURES / "codex"
CODEX_RICH_FIXTURES = FIXTURES / "codex-rich"


def fixture_rollouts() -> list[Path]:
    """Every rollout file written by the real Codex CLI, in a stable order."""
    return sorted(CODEX_FIXTURES.glob("rollouts/*.jsonl")) + sorted(
        CODEX_RICH_FIXTURES.glob("rollouts/*.jsonl")
    )


def expected_install_hint(extra: str) -> str:
    """The end of the error line for a missing optional extra, as a user must read it:
    the interpreter llmx runs on (this one, in a subprocess started with it) and the
    extra's requirements as pyproject.toml lists them."""
    import shlex
    import sys
    import tomllib

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = project["project"]["optional-dependencies"][extra]
    command = " ".join(shlex.quote(part) for part in
                       (sys.executable, "-m", "pip", "install", *wanted))
    return f"install llmx's {extra} extra into the Python it runs on: {command}"
