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
