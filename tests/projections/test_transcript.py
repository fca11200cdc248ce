"""The TUI transcript fold: pages equal one fold, live (with deltas) equals the file, and
rollbacks, forks, late completions and streamed cells land where the log says."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import msgspec
import pytest
from projections.rollout_builder import RolloutBuilder, install_rich_sessions
from support import PROJECT_ROOT, fixture_rollouts
from support.model_server import scripted

from llmx.events.lines import decode_line
from llmx.events.reader import read_rollout
from llmx.projections import transcript_cells as tc
from llmx.projections.transcript import TranscriptFold, fold_lines
from llmx.projections.transcript_pages import TranscriptPages, fold_file

SAMPLE = PROJECT_ROOT / "examples" / "sample.rollout.jsonl"
ALL_ROLLOUTS = [*fixture_rollouts(), SAMPLE]


def view(cells: list[tc.Cell]) -> list[tc.Cell]:
    """Cells without their revision counters (how often a cell changed is not content)."""
    return [msgspec.structs.replace(cell, revision=0) for cell in cells]


def joined_pages(path: Path, turns_per_page: int) -> list[tc.Cell]:
    pages = TranscriptPages(path, turns_per_page=turns_per_page)
    newest = pages.newest()
    newest.finish()
    parts = [newest.cells]
    while pages.has_earlier:
        parts.insert(0, pages.earlier())
    return [cell for part in parts for cell in part]


@pytest.mark.parametrize("path", ALL_ROLLOUTS, ids=lambda p: p.name)
def test_pages_joined_equal_one_fold(path: Path) -> None:
    whole = fold_file(path)
    assert whole.cells, "every fixture session shows something"
    for turns_per_page in (1, 2, 5):
        assert view(joined_pages(path, turns_per_page)) == view(whole.cells), turns_per_page


def kinds_and_texts(cells: list[tc.Cell]) -> list[tuple[str, str]]:
    shown: list[tuple[str, str]] = []
    for cell in cells:
        text = getattr(cell, "text", None) or getattr(cell, "command", None) or ""
        shown.append((type(cell).__name__, str(text)))
    return shown


def test_codex_tui_sessions_fold_to_what_codex_drew() -> None:
    """The cells of the Codex TUI fixture sessions, in the order its screens show them."""
    rollouts = {path.name.split(".")[0]: path for path in fixture_rollouts()}
    escalation = fold_file(rollouts["tui_escalation_deny_esc"])
    assert kinds_and_texts(escalation.cells) == [
        ("UserCell", "write a file outside the workspace (tui esc)"),
        ("TurnEndCell", ""),
        ("UserCell", "write it inside the workspace instead"),
        ("CommandCell", "/bin/bash -lc 'echo tui > inside.txt'"),
        ("AgentCell", "Wrote inside.txt in the workspace instead."),
        ("TurnEndCell", ""),
    ]
    ends = [cell for cell in escalation.cells if isinstance(cell, tc.TurnEndCell)]
    assert [end.status for end in ends] == [tc.ExecTurnStatus.INTERRUPTED,
                                            tc.ExecTurnStatus.COMPLETED]
    status = escalation.status
    assert (status.model, status.approval_policy, status.sandbox) == (
        "mock-model", "on-request", "workspace-write")
    assert status.total_tokens == 330
    # The interrupted command of the other fixture is recorded after the next turn: shown last.
    interrupted = fold_file(rollouts["tui_interrupt_esc"])
    last = interrupted.cells[-1]
    assert isinstance(last, tc.CommandCell)
    assert last.status is tc.ItemStatus.FAILED
    assert "sleep 30" in last.command


def test_fork_and_revert_segments_show_their_parents_first(tmp_path: Path) -> None:
    placed = install_rich_sessions(
        tmp_path, "tui_fork_last__base", "tui_fork_last__fork",
        "tui_backtrack_esc_esc__original", "tui_backtrack_esc_esc__revert_segment",
    )
    fork = fold_file(placed["tui_fork_last__fork"])
    # Where the fork's own lines begin (Codex draws the same line above the inherited turns).
    shown = [(kind, text) for kind, text in kinds_and_texts(fork.cells) if kind != "TurnEndCell"]
    assert shown == [
        ("UserCell", "base turn before forking"),
        ("AgentCell", "Base thread reply."),
        ("InfoCell", "Thread forked from 01a1fc9b-aa09-79a1-bcb6-50c93e1966b1"),
        ("UserCell", "hello in the fork"),
        ("AgentCell", "Reply inside the forked thread."),
    ]
    reverted = fold_file(placed["tui_backtrack_esc_esc__revert_segment"])
    shown = [pair for pair in kinds_and_texts(reverted.cells) if pair[0] != "TurnEndCell"]
    assert shown == [
        ("UserCell", "first question"),
        ("AgentCell", "Answer one."),
        ("InfoCell", "Conversation reverted to this point. File changes are unchanged."),
        ("UserCell", "edited question"),
        ("AgentCell", "Answer to the edited question."),
    ]
    for path in placed.values():
        for turns_per_page in (1, 2):
            assert view(joined_pages(path, turns_per_page)) == view(fold_file(path).cells)


def test_a_missing_parent_is_reported_and_the_file_still_shows(tmp_path: Path) -> None:
    placed = install_rich_sessions(tmp_path, "tui_fork_last__fork")
    problems: list[str] = []
    fold = fold_file(placed["tui_fork_last__fork"], problems=problems)
    assert len(problems) == 1
    assert "01a1fc9b-aa09-79a1-bcb6-50c93e1966b1" in problems[0]
    assert "hello in the fork" in [getattr(cell, "text", "") for cell in fold.cells]


def rolled_back_rollout(path: Path) -> Path:
    builder = RolloutBuilder()
    for number in range(1, 5):
        builder.turn(f"t{number}", f"question {number}", f"answer {number}")
    builder.event("thread_rolled_back", num_turns=3)
    builder.turn("t5", "question 5", "answer 5")
    return builder.write(path)


def test_a_rollback_removes_the_turns_it_names(tmp_path: Path) -> None:
    path = rolled_back_rollout(tmp_path / "rolled.jsonl")
    fold = fold_file(path)
    # (The builder's answers are response items only, which no transcript shows.)
    shown = [text for kind, text in kinds_and_texts(fold.cells) if kind != "TurnEndCell"]
    assert shown == [
        "question 1",
        "Conversation reverted to this point. File changes are unchanged.",
        "question 5",
    ]
    # Pages of one turn each: the rollback reaches back over three earlier pages.
    for turns_per_page in (1, 2, 3):
        assert view(joined_pages(path, turns_per_page)) == view(fold.cells)


def late_completion_rollout(path: Path) -> Path:
    command = {"type": "CommandExecution", "id": "call_slow", "command": ["sleep", "30"],
               "cwd": "/repo", "parsed_cmd": [], "source": "agent", "status": "inProgress"}
    builder = RolloutBuilder()
    builder.event("task_started", turn_id="t1")
    builder.event("item_completed", thread_id=builder.thread_id, turn_id="t1",
                  item={"type": "UserMessage", "id": "u1",
                        "content": [{"type": "text", "text": "run it"}]})
    builder.event("item_started", thread_id=builder.thread_id, turn_id="t1", item=command)
    builder.event("turn_aborted", reason="interrupted", turn_id="t1")
    builder.turn("t2", "what happened?", "You interrupted it.")
    done = {**command, "status": "failed", "exit_code": -1, "aggregated_output": "started\n"}
    builder.event("item_completed", thread_id=builder.thread_id, turn_id="t1", item=done)
    return builder.write(path)


def test_a_command_completed_after_its_turn_updates_its_own_cell(tmp_path: Path) -> None:
    path = late_completion_rollout(tmp_path / "late.jsonl")
    fold = fold_file(path)
    commands = [cell for cell in fold.cells if isinstance(cell, tc.CommandCell)]
    assert len(commands) == 1
    assert commands[0].status is tc.ItemStatus.FAILED
    assert commands[0].output == "started\n"
    assert fold.cells.index(commands[0]) == 1, "in the first turn, where it started"
    for turns_per_page in (1, 2):
        assert view(joined_pages(path, turns_per_page)) == view(fold.cells)


def delta_line(kind: str, **fields: object) -> bytes:
    line = {"timestamp": "2026-11-21T05:00:00.000Z", "type": "event_msg",
            "payload": {"type": kind, **fields}}
    return json.dumps(line).encode()


def test_streamed_cells_become_the_completed_items(tmp_path: Path) -> None:
    path = late_completion_rollout(tmp_path / "late.jsonl")
    lines = read_rollout(path)
    fold = TranscriptFold()
    streamed_answer = False
    for line in lines:
        payload = json.loads(line.payload_raw)
        if payload.get("type") == "item_started":
            fold.feed_line(line)
            chunk = base64.b64encode(b"started\n").decode()
            fold.feed_line(decode_line(delta_line(
                "exec_command_output_delta", call_id="call_slow", stream="stdout", chunk=chunk)))
            command = fold.cells[-1]
            assert isinstance(command, tc.CommandCell)
            assert command.output == "started\n"
            continue
        if line.type == "response_item" and payload.get("role") == "assistant":
            for piece in ("You ", "interrupted ", "it."):
                fold.feed_line(decode_line(delta_line(
                    "agent_message_content_delta", thread_id="x", turn_id="t2",
                    item_id="m2", delta=piece)))
            streaming = fold.cells[-1]
            assert isinstance(streaming, tc.AgentCell)
            assert (streaming.text, streaming.streaming) == ("You interrupted it.", True)
            streamed_answer = True
        fold.feed_line(line)
    fold.finish()
    assert streamed_answer
    # The builder's answer has no completed AgentMessage item (only the legacy response
    # item, which the exec fold does not show), so the stream was dropped at turn end,
    # exactly as the file without deltas shows no answer cell.
    assert view(fold.cells) == view(fold_file(path).cells)


def test_a_stream_cut_by_an_interrupt_leaves_nothing_the_log_lacks() -> None:
    fold = TranscriptFold()
    fold.feed_line(decode_line(delta_line("task_started", turn_id="t1")))
    fold.feed_line(decode_line(delta_line(
        "agent_message_content_delta", thread_id="x", turn_id="t1", item_id="m", delta="Half")))
    assert isinstance(fold.cells[-1], tc.AgentCell)
    fold.feed_line(decode_line(delta_line("turn_aborted", reason="interrupted", turn_id="t1")))
    assert [type(cell) for cell in fold.cells] == [tc.TurnEndCell]


def test_dirty_index_says_where_the_cells_changed() -> None:
    fold = fold_lines(read_rollout(SAMPLE))
    assert fold.take_dirty_from() == 0
    assert fold.take_dirty_from() is None
    before = len(fold.cells)
    fold.feed_line(decode_line(delta_line(
        "agent_message_content_delta", thread_id="x", turn_id="t", item_id="m", delta="Hi")))
    assert fold.take_dirty_from() == before
    fold.feed_line(decode_line(delta_line(
        "agent_message_content_delta", thread_id="x", turn_id="t", item_id="m", delta="!")))
    assert fold.take_dirty_from() == before
    assert fold.cells[-1].revision == 1


def test_status_counts_context_left_as_codex_does() -> None:
    fold = fold_file(fixture_rollouts()[0])
    status = fold.status
    status.context_window, status.context_tokens = 272_000, 12_000
    assert status.context_left_percent() == 100
    status.context_tokens = 142_000
    assert status.context_left_percent() == 50
    status.context_window = None
    assert status.context_left_percent() is None


LLMX_SCRIPT = {
    "turns": [
        [{"type": "reasoning", "summary": [{"type": "summary_text", "text": "Looking around."}]},
         {"type": "shell", "command": "echo visible"}],
        [{"type": "message", "text": "The command printed visible and nothing else."}],
    ]
}


def test_an_llmx_session_with_its_deltas_folds_like_its_file_without(tmp_path: Path) -> None:
    """What a live subscriber sees (every delta, here persisted) folds to the cells of the
    file the deltas are left out of: live equals resume equals replay."""
    from e2e.exec_harness import make_env

    with scripted(LLMX_SCRIPT) as server:
        env = make_env(tmp_path, server.base_url)
        run = env.run("-c", "rollout.persist_deltas=true", "-s", "danger-full-access",
                      "look around")
    assert run.returncode == 0, run.stderr
    (path,) = env.rollouts()
    lines = read_rollout(path)
    deltas = [line for line in lines if line.payload_type and line.payload_type.endswith("_delta")]
    assert deltas, "the live stream had deltas"
    live = fold_lines(lines)
    without = fold_lines([line for line in lines if line not in deltas])
    assert view(live.cells) == view(without.cells)
    kinds = [type(cell).__name__ for cell in live.cells]
    assert kinds == ["UserCell", "ReasoningCell", "CommandCell", "AgentCell", "TurnEndCell"]
