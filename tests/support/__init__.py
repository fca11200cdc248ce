"""Shared helpers for the test suite (paths to the read-only reference fixtures)."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The reference material lives beside the project's root and is never edited by tests.
SHARED = PROJECT_ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures"
CODEX_FIXTURES = FIXTURES / "codex"
CODEX_RICH_FIXTURES = FIXTURES / "codex-rich"


def fixture_rollouts() -> list[Path]:
    """Every rollout file written by the real Codex CLI, in a stable order."""
    return sorted(CODEX_FIXTURES.glob("rollouts/*.jsonl")) + sorted(
        CODEX_RICH_FIXTURES.glob("rollouts/*.jsonl")
    )
