"""The transcript llmx draws for a session beside the one Codex 0.169's TUI drew for it.

``tests/fixtures/codex-rich/tui-screens`` holds the screens Codex's TUI showed during
recorded sessions, ``rollouts`` the files those sessions wrote. llmx's replay of the files
must show, line for line, the transcript of Codex's last screen, but for what differs
on purpose or cannot be known from the file (each listed below with its reason).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import pytest
from projections.rollout_builder import install_rich_sessions
from support import CODEX_RICH_FIXTURES

from llmx.cli.tui.app import LlmxApp
from llmx.cli.tui.cell_render import shown_command
from llmx.projections.transcript_pages import TranscriptPages

SCREENS = CODEX_RICH_FIXTURES / "tui-screens"
ROLLOUTS = CODEX_RICH_FIXTURES / "rollouts"

# Codex's live screen shows its own answer to an approval ("✔ You approved codex to run
# ...", "✗ You canceled the request ..."), and a command the user declined, as cells of
# its own: Codex's rollouts record neither (llmx's own rollouts record the request and
# the decision, and show them).
LIVE_ONLY = re.compile(r"^(✔ You approved codex|✗ You canceled the request)")


class Session(NamedTuple):
    """A session Codex drew: the fixture sessions to place in a home (a fork's or a
    backtrack's parents are followed from there), the one llmx replays, and what differs
    on purpose or cannot be known from the files, each with its reason where listed."""

    replayed: str
    placed: tuple[str, ...] = ()
    # Rows of Codex's screen the files do not give.
    codex_only: tuple[str, ...] = ()
    # Rows llmx draws that Codex's screen does not have.
    llmx_only: tuple[str, ...] = ()
    # Rows both draw, each in its own place.
    elsewhere: tuple[str, ...] = ()


SESSIONS = {
    "tui_escalation_approve_once_y": Session("tui_escalation_approve_once_y"),
    "tui_escalation_approve_prefix_p": Session("tui_escalation_approve_prefix_p"),
    # The declined command never ran: Codex drew it from the live request only.
    "tui_escalation_deny_esc": Session("tui_escalation_deny_esc", codex_only=(
        "• Ran echo tui > /home/dev/outside/tui_esc.txt", "  └ (no output)")),
    # The interrupted command went on as a background terminal and ended after the
    # next turn: Codex 0.169 lists such a command under /ps, llmx shows its end where
    # the file records it.
    "tui_interrupt_esc": Session("tui_interrupt_esc", llmx_only=(
        "• Ran echo started; sleep 30; echo finished",
        "  └ pyenv: cannot rehash: /usr/local/bin isn't writable", "    started",
        "    exit code -1")),
    "tui_fork_last": Session("tui_fork_last__base"),
    # The live fork showed its notice above the parent's turns; the file has it after
    # them, where llmx's fold shows it.
    "tui_fork_last_fork": Session(
        "tui_fork_last__fork", placed=("tui_fork_last__base", "tui_fork_last__fork"),
        elsewhere=("• Thread forked from 01a1fc9b-aa09-79a1-bcb6-50c93e1966b1",)),
    "tui_backtrack_esc_esc": Session(
        "tui_backtrack_esc_esc__revert_segment",
        placed=("tui_backtrack_esc_esc__original", "tui_backtrack_esc_esc__revert_segment")),
}


def codex_transcript(name: str) -> list[str]:
    """The transcript rows of Codex's screen after the session ended: between its
    header (and tip) and the lines it prints on leaving."""
    text = (SCREENS / f"{name}.tui_screens.txt").read_text()
    screen = text.split("===== [after quit] =====\n", 1)[1].split("\nToken usage:", 1)[0]
    rows = screen.split("\n")
    start = next(index for index, row in enumerate(rows) if row.startswith(("› ", "• ")))
    return normalise(rows[start:])


def normalise(rows: list[str]) -> list[str]:
    """Rows without blank lines and without what each program words its own way: the
    end of a turn (Codex "Worked for 1s • 05:34", llmx "─ Worked for 1s ─") and the
    notice of an interrupted turn (Codex points to its /feedback command)."""
    out = []
    for row in rows:
        row = row.rstrip()
        if not row.strip():
            continue
        worked = re.match(r"^\s*─? ?Worked for (\S+)", row)
        if worked:
            row = f"Worked for {worked.group(1)}"
        elif row.startswith("■ Conversation interrupted"):
            row = "■ Conversation interrupted"
        out.append(row)
    return out


async def llmx_transcript(path: Path) -> list[str]:
    """The rows ``llmx replay --tui`` draws for ``path``, on a screen wide enough that no
    row wraps (Codex's screen was 200 columns)."""
    app = LlmxApp(cwd=Path("/home/dev/project"), pages=TranscriptPages(path))
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.pause()
        return normalise(app.view.plain_lines())


@pytest.mark.asyncio
@pytest.mark.parametrize("name", sorted(SESSIONS))
async def test_llmx_draws_the_transcript_codex_drew(name: str, tmp_path: Path) -> None:
    session = SESSIONS[name]
    paths = install_rich_sessions(tmp_path, *session.placed)
    path = paths.get(session.replayed, ROLLOUTS / f"{session.replayed}.rollout.jsonl")
    codex = [row for row in codex_transcript(name) if not LIVE_ONLY.match(row)]
    llmx = await llmx_transcript(path)
    for row in session.codex_only:
        codex.remove(row)
    for row in session.llmx_only:
        llmx.remove(row)
    for row in session.elsewhere:
        codex.remove(row)
        llmx.remove(row)
    assert llmx == codex


@pytest.mark.parametrize(("line", "shown"), [
    ("/bin/bash -lc 'echo tui > inside.txt'", "echo tui > inside.txt"),
    ("bash -c \"printf '%s' x\"", "printf '%s' x"),
    ("/usr/bin/zsh -lc ls", "ls"),
    # Not a shell running a script: the line as it is.
    ("python3 -c 'print(1)'", "python3 -c 'print(1)'"),
    ("bash -lc ls extra", "bash -lc ls extra"),
    ("bash script.sh", "bash script.sh"),
    ("echo 'unbalanced", "echo 'unbalanced"),
])
def test_a_shell_running_a_script_is_shown_as_the_script(line: str, shown: str) -> None:
    assert shown_command(line) == shown
