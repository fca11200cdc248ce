"""SVG snapshots of the main screens (``tests/tui/__snapshots__``), reviewed by eye when
they change: ``pytest tests/tui/test_tui_snapshots.py --snapshot-update`` rewrites them,
and the report pytest-textual-snapshot writes on a failure shows old and new side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import CODEX_RICH_FIXTURES
from tui.test_tui_widgets import COMMAND_REQUEST, DialogApp

from llmx.cli.tui.app import LlmxApp
from llmx.projections.transcript import PendingApproval
from llmx.projections.transcript_pages import TranscriptPages

ROLLOUTS = CODEX_RICH_FIXTURES / "rollouts"
CWD = Path("/home/dev/project")
SnapCompare = Callable[..., bool]


def replay(name: str) -> LlmxApp:
    return LlmxApp(cwd=CWD, pages=TranscriptPages(ROLLOUTS / f"{name}.rollout.jsonl"))


def test_replay_at_80x24(snap_compare: SnapCompare) -> None:
    assert snap_compare(replay("tui_escalation_deny_esc"), terminal_size=(80, 24))


def test_replay_wide_with_patches(snap_compare: SnapCompare) -> None:
    app = replay("apply_patch_add_update_delete_human")
    assert snap_compare(app, terminal_size=(140, 40))


def test_replay_without_colour(snap_compare: SnapCompare, monkeypatch: Any) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(replay("apply_patch_add_update_delete_human"), terminal_size=(80, 24))


def test_transcript_overlay(snap_compare: SnapCompare) -> None:
    assert snap_compare(replay("interrupt_mid_command"), press=["ctrl+t"],
                        terminal_size=(80, 24))


def test_approval_dialog(snap_compare: SnapCompare) -> None:
    assert snap_compare(DialogApp(COMMAND_REQUEST), terminal_size=(80, 24))


def test_patch_approval_dialog(snap_compare: SnapCompare) -> None:
    request = PendingApproval(
        call_id="call_2", kind="patch", turn_id="t1",
        reason="not writable under the sandbox: /etc/llmx.conf",
        targets=("/home/dev/project/src/app.py", "/etc/llmx.conf"))
    assert snap_compare(DialogApp(request), terminal_size=(80, 24))


@pytest.fixture(autouse=True)
def _stable_environment(monkeypatch: Any) -> None:
    # The colour depth of the snapshot must not depend on the terminal the tests run in.
    monkeypatch.delenv("COLORTERM", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
