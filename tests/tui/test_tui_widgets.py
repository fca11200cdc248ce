"""The TUI's parts on their own: the composer and its history, the approval dialog, the
``@`` file search, slash command parsing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support.waits import WAIT_SECONDS
from textual.app import App, ComposeResult
from textual.widgets import OptionList

from llmx.cli.tui import slash_commands as slash
from llmx.cli.tui.approval_screen import ApprovalScreen, question
from llmx.cli.tui.composer import Composer
from llmx.cli.tui.file_search import mention_at, rank, workspace_files
from llmx.cli.tui.history_recall import HistoryRecall
from llmx.events.history import HistoryFile
from llmx.events.ops import ReviewDecision
from llmx.projections.transcript import PendingApproval


class ComposerApp(App[None]):
    def __init__(self, recall: HistoryRecall) -> None:
        super().__init__()
        self.recall = recall
        self.submitted: list[str] = []

    def compose(self) -> ComposeResult:
        yield Composer(self.recall, id="composer")

    def on_mount(self) -> None:
        self.query_one(Composer).focus()

    def on_composer_submitted(self, message: Composer.Submitted) -> None:
        self.submitted.append(message.text)
        self.query_one(Composer).set_text("")


def history_with(tmp_path: Path, *prompts: str) -> HistoryFile:
    history = HistoryFile(tmp_path / "history.jsonl")
    for number, prompt in enumerate(prompts):
        history.append("01a1fc9b-0000-7000-8000-000000000001", prompt, ts=1_700_000_000 + number)
    return history


@pytest.mark.asyncio
async def test_up_and_down_walk_the_history_file_newest_first(tmp_path: Path) -> None:
    recall = HistoryRecall(history_with(tmp_path, "first prompt", "second prompt"))
    app = ComposerApp(recall)
    async with app.run_test(size=(80, 10)) as pilot:
        composer = app.query_one(Composer)
        await pilot.press(*"draft")
        await pilot.press("up")
        assert composer.text == "second prompt"
        await pilot.press("up")
        assert composer.text == "first prompt"
        await pilot.press("up")
        assert composer.text == "first prompt", "nothing older"
        await pilot.press("down")
        assert composer.text == "second prompt"
        await pilot.press("down")
        assert composer.text == "draft", "the draft comes back"


@pytest.mark.asyncio
async def test_enter_submits_and_ctrl_j_breaks_the_line(tmp_path: Path) -> None:
    recall = HistoryRecall(None)
    app = ComposerApp(recall)
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.press(*"line one", "ctrl+j", *"line two", "enter")
        assert app.submitted == ["line one\nline two"]
        await pilot.press("enter")
        assert app.submitted == ["line one\nline two"], "an empty composer submits nothing"


def test_prompts_of_this_session_are_recalled_before_the_file(tmp_path: Path) -> None:
    recall = HistoryRecall(history_with(tmp_path, "from the file"))
    recall.add("typed just now")
    assert recall.older("") == "typed just now"
    assert recall.older("") == "from the file"
    assert recall.search("FILE") == ["from the file"]
    assert HistoryRecall(None).older("") is None


def test_recall_reads_a_large_history_through_its_index(tmp_path: Path) -> None:
    history = HistoryFile(tmp_path / "history.jsonl")
    for number in range(3000):
        history.append("s", f"prompt {number}", ts=number)
    recall = HistoryRecall(history)
    assert recall.total == 3000
    assert recall.older("") == "prompt 2999"
    assert recall.entry(3000) == "prompt 0"
    assert recall.search("prompt 12", limit=3) == ["prompt 1299", "prompt 1298", "prompt 1297"]


class DialogApp(App[None]):
    def __init__(self, request: PendingApproval) -> None:
        super().__init__()
        self.request = request
        self.decisions: list[ReviewDecision | None] = []

    def on_mount(self) -> None:
        self.push_screen(ApprovalScreen(self.request), self.decisions.append)


COMMAND_REQUEST = PendingApproval(
    call_id="call_1", kind="exec", turn_id="t1", command="echo tui > /outside/x.txt",
    cwd="/home/dev/project", reason="Allow writing outside the workspace?",
)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("key", "decision"),
    [("y", ReviewDecision.APPROVED), ("a", ReviewDecision.APPROVED_FOR_SESSION),
     ("n", ReviewDecision.DENIED), ("escape", ReviewDecision.ABORT)],
)
async def test_the_approval_dialog_answers_with_one_key(key: str, decision: ReviewDecision) -> None:
    app = DialogApp(COMMAND_REQUEST)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(key)
        await pilot.pause()
    assert app.decisions == [decision]


@pytest.mark.asyncio
async def test_the_approval_dialog_takes_enter_on_the_highlighted_choice() -> None:
    app = DialogApp(COMMAND_REQUEST)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("down", "down")
        await pilot.pause()
        choices = app.screen.query_one(OptionList)
        marked = [str(choices.get_option_at_index(index).prompt)
                  for index in range(choices.option_count)]
        assert [line[:2] for line in marked] == ["  ", "  ", "› ", "  "]
        assert marked[2] == "› 3. No, and continue without it (n)"
        await pilot.press("enter")
        await pilot.pause()
    assert app.decisions == [ReviewDecision.DENIED]


def test_the_dialog_says_what_is_asked() -> None:
    text = question(COMMAND_REQUEST).plain
    for part in ("echo tui > /outside/x.txt", "/home/dev/project",
                 "Allow writing outside the workspace?"):
        assert part in text
    patch = PendingApproval(call_id="c", kind="patch", turn_id="t",
                            reason="not writable under the sandbox: /etc/x",
                            targets=("/etc/x", "/repo/y"))
    text = question(patch).plain
    assert "/etc/x" in text
    assert "/repo/y" in text
    assert "not writable" in text


def test_file_search_lists_git_files_and_ranks_fuzzy_matches(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "src" / "llmx").mkdir(parents=True)
    for name in ("src/llmx/composer.py", "src/llmx/compositor.py", "README.md",
                 "ignored.log", "src/llmx/transcript.py"):
        (repo / name).write_text("x\n")
    (repo / ".gitignore").write_text("*.log\n")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, timeout=WAIT_SECONDS)
    files = workspace_files(repo)
    assert "ignored.log" not in files
    assert "src/llmx/composer.py" in files
    assert rank("cmpsr", files)[0] == "src/llmx/composer.py"
    assert rank("trans", files) == ["src/llmx/transcript.py"]
    assert rank("zzz", files) == []
    # Outside a repository: a walk that skips hidden folders.
    plain = tmp_path / "plain"
    (plain / ".hidden").mkdir(parents=True)
    (plain / ".hidden" / "secret.txt").write_text("x")
    (plain / "a.txt").write_text("x")
    assert workspace_files(plain) == ["a.txt"]


def test_a_mention_is_the_word_after_an_at_sign() -> None:
    assert mention_at("look at @src/ll", 15) == (8, "src/ll")
    assert mention_at("mail me@example.com", 19) is None
    assert mention_at("@ then space", 12) is None


def test_slash_commands_parse_and_filter() -> None:
    assert slash.parse("/rename my session") == ("rename", "my session")
    assert slash.parse("/quit") == ("quit", "")
    assert slash.parse("/usr/bin/env is a path") is None
    assert slash.parse("not a command") is None
    assert [c.name for c in slash.matching("re")] == ["resume", "rename"]
    names = {c.name for c in slash.COMMANDS}
    assert {"new", "resume", "fork", "rename", "compact", "diff", "status", "model",
            "permissions", "mcp", "init", "quit"} <= names


def test_the_exit_summary_counts_tokens_as_codex_does() -> None:
    from llmx.cli.tui.launch import token_usage_line
    from llmx.events.primitives import TokenUsage

    # Codex 0.169's own line for a session of one request (its TUI screens' fixture).
    assert token_usage_line(TokenUsage(input_tokens=200, output_tokens=20, total_tokens=220)) \
        == "Token usage: total=220 input=200 output=20"
    # The cached input is not counted in the total; reasoning is part of the output.
    usage = TokenUsage(input_tokens=1_216_954, cached_input_tokens=1_000_000,
                       output_tokens=156_829, reasoning_output_tokens=21_846,
                       total_tokens=1_373_783)
    assert token_usage_line(usage) == ("Token usage: total=373,783 input=216,954 "
                                       "(+ 1,000,000 cached) output=156,829 (reasoning 21,846)")


def test_a_patch_cell_names_its_files_from_the_turn_s_folder_with_what_it_did() -> None:
    from llmx.cli.tui.cell_render import render_cell
    from llmx.projections import transcript_cells as tc
    from llmx.projections.exec.items import FileChangeEntry, ItemStatus

    def title(*changes: FileChangeEntry, status: ItemStatus = ItemStatus.COMPLETED) -> str:
        cell = tc.PatchCell(call_id="c", changes=list(changes), status=status, cwd="/w/p")
        rendered = render_cell(cell, show_reasoning=True)
        assert rendered is not None
        return rendered.plain.splitlines()[0]

    added = FileChangeEntry("/w/p/notes.txt", "add", content="one\ntwo\n")
    gone = FileChangeEntry("/w/p/old.txt", "delete", content="x\n")
    assert title(added) == "• Added notes.txt (+2 -0)"
    assert title(gone) == "• Deleted old.txt (+0 -1)"
    assert title(added, gone) == "• Edited notes.txt, old.txt (+2 -1)"
    assert title(added, status=ItemStatus.IN_PROGRESS) == "• Editing notes.txt (+2 -0)"
    # Outside the turn's folder a path stays whole.
    assert title(FileChangeEntry("/etc/hosts", "add", content="h\n")) \
        == "• Added /etc/hosts (+1 -0)"
