"""The resume fold against what Codex sent when resuming, and on hand-written rollouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from projections.rollout_builder import RolloutBuilder, assistant, texts, user
from support import CODEX_FIXTURES

from llmx.projections.resume import fold_resume, prompt_input

RESUMED = CODEX_FIXTURES / "rollouts" / (
    "exec_json_shell_workspace_write_then_resume_last_again.rollout.jsonl"
)
RESUME_REQUESTS = CODEX_FIXTURES / "requests" / "exec_resume_last.requests.jsonl"


def _prefix_before_resumed_turn(tmp_path: Path) -> Path:
    """The rollout as it was before ``exec resume --last`` ran its turn."""
    lines = RESUMED.read_bytes().splitlines(keepends=True)
    first_turn_end = next(
        index for index, line in enumerate(lines) if b'"task_complete"' in line
    )
    prefix = tmp_path / "prefix.jsonl"
    prefix.write_bytes(b"".join(lines[: first_turn_end + 1]))
    return prefix


def test_fold_of_prefix_is_what_codex_sent_on_resume(tmp_path: Path) -> None:
    sent = json.loads(RESUME_REQUESTS.read_text().splitlines()[0])["body"]["input"]
    state = fold_resume(_prefix_before_resumed_turn(tmp_path))
    restored = prompt_input(state.history)
    # Codex's request: base instructions (a developer message built from the model's
    # instructions, never recorded), then the folded history, then the new turn's
    # context (permissions, environment) and prompt.
    new_turn = sent[-3:]
    assert [item["role"] for item in new_turn] == ["developer", "user", "user"]
    assert new_turn[-1]["content"][0]["text"] == "again"
    assert restored == sent[1:-3]
    assert state.thread_id == "01a1fc90-b7a5-70e1-a144-262ede99cc4e"
    assert state.settings.model == "mock-model"
    assert state.settings.approval_policy == "never"
    assert state.settings.sandbox_policy["type"] == "workspace-write"
    assert state.token_usage is not None
    assert state.token_usage["total_token_usage"]["total_tokens"] == 220


def test_recorded_items_keep_internal_metadata_until_sent(tmp_path: Path) -> None:
    state = fold_resume(_prefix_before_resumed_turn(tmp_path))
    assert all("internal_chat_message_metadata_passthrough" in item for item in state.history)
    assert not any(
        "internal_chat_message_metadata_passthrough" in item
        for item in prompt_input(state.history)
    )


def test_fold_of_whole_file_includes_the_resumed_turn() -> None:
    state = fold_resume(RESUMED)
    assert texts(state.history)[-2:] == ["again", "Hi again! (resumed, from the mock)"]
    assert state.token_usage is not None
    assert state.token_usage["total_token_usage"]["total_tokens"] == 330


def test_compaction_with_replacement_history_is_the_base(tmp_path: Path) -> None:
    builder = RolloutBuilder().turn("t1", "first", "one").turn("t2", "second", "two")
    builder.add("compacted", {"message": "", "replacement_history": [
        user("first"), user("second"), assistant("summary of both")]})
    builder.turn("t3", "third", "three", tokens=50)
    path = builder.write(tmp_path / "r.jsonl")
    state = fold_resume(path)
    assert texts(state.history) == [
        "first", "second", "summary of both",
        "<permissions instructions>turn t3</permissions instructions>",
        "<environment_context>\n  <cwd>/repo</cwd>\n</environment_context>",
        "third", "three",
    ]
    assert state.reference_context is not None
    assert state.reference_context["turn_id"] == "t3"


def test_reading_stops_at_the_newest_compaction(tmp_path: Path) -> None:
    head = RolloutBuilder().turn("t1", "first", "one").text() + "{this line is corrupt\n"
    tail = RolloutBuilder()
    tail.lines = []
    # ``/compact`` runs as a task of its own.
    tail.event("task_started", turn_id="c1")
    tail.add("compacted", {"message": "", "replacement_history": [user("kept")]})
    tail.event("task_complete", turn_id="c1")
    tail.turn("t2", "second", "two", tokens=9)
    path = tmp_path / "r.jsonl"
    path.write_text(head + tail.text(), encoding="utf-8")
    state = fold_resume(path)
    assert texts(state.history)[0] == "kept"
    assert "first" not in texts(state.history)
    # The corrupt line lies before the compaction: never read, so never reported.
    assert state.skipped == []
    assert state.lines_read == len(tail.lines)


def test_legacy_compaction_rebuilds_from_user_messages_and_summary(tmp_path: Path) -> None:
    builder = RolloutBuilder().turn("t1", "first", "one").turn("t2", "second", "two")
    builder.add("compacted", {"message": "SUMMARY"})
    builder.turn("t3", "third", "three")
    state = fold_resume(builder.write(tmp_path / "r.jsonl"))
    history = texts(state.history)
    assert history[:3] == ["first", "second", "SUMMARY"]
    assert history[-2:] == ["third", "three"]
    assert "one" not in history


def test_legacy_compaction_uses_the_given_initial_context(tmp_path: Path) -> None:
    builder = RolloutBuilder().turn("t1", "first", "one")
    builder.add("compacted", {"message": "SUMMARY"})
    state = fold_resume(
        builder.write(tmp_path / "r.jsonl"), initial_context=[user("<environment_context/>")]
    )
    assert texts(state.history) == ["<environment_context/>", "first", "SUMMARY"]
    # A compaction after the last turn context invalidates it as a baseline.
    assert state.reference_context is None


def test_rollback_drops_the_last_turns_and_their_settings(tmp_path: Path) -> None:
    builder = RolloutBuilder()
    builder.turn("t1", "first", "one", model="model-a")
    builder.turn("t2", "second", "two", model="model-b")
    builder.turn("t3", "third", "three", model="model-c")
    builder.event("thread_rolled_back", num_turns=1)
    state = fold_resume(builder.write(tmp_path / "r.jsonl"))
    history = texts(state.history)
    assert history[-2:] == ["second", "two"]
    assert "third" not in history
    assert "<permissions instructions>turn t3</permissions instructions>" not in history
    assert state.previous_model == "model-b"
    assert state.settings.model == "model-b"


def test_rollback_of_more_turns_than_exist_keeps_the_prefix(tmp_path: Path) -> None:
    builder = RolloutBuilder().turn("t1", "first", "one").turn("t2", "second", "two")
    builder.event("thread_rolled_back", num_turns=5)
    state = fold_resume(builder.write(tmp_path / "r.jsonl"))
    assert "first" not in texts(state.history)
    assert "second" not in texts(state.history)


def test_rollback_after_compaction_skips_the_compacted_turn(tmp_path: Path) -> None:
    builder = RolloutBuilder().turn("t1", "first", "one")
    builder.event("task_started", turn_id="t2")
    builder.add("turn_context", {"turn_id": "t2", "cwd": "/repo", "model": "m2"})
    builder.item(user("second"))
    builder.event("item_completed", turn_id="t2", item={"type": "UserMessage", "id": "u2",
                                                         "content": []})
    builder.add("compacted", {"message": "", "replacement_history": [user("compacted t2")]})
    builder.event("task_complete", turn_id="t2")
    builder.event("thread_rolled_back", num_turns=1)
    state = fold_resume(builder.write(tmp_path / "r.jsonl"))
    # The compaction belonged to the rolled-back turn, so it is not the base.
    assert "compacted t2" not in texts(state.history)
    assert texts(state.history)[-2:] == ["first", "one"]


def test_torn_tail_and_corrupt_lines(tmp_path: Path) -> None:
    builder = RolloutBuilder().turn("t1", "first", "one", tokens=7)
    text = builder.text()
    lines = text.splitlines(keepends=True)
    lines.insert(3, "not json at all\n")
    path = tmp_path / "r.jsonl"
    torn = '{"timestamp":"2026-11-21T05:00:00.000Z","type":"resp'
    path.write_text("".join(lines) + torn, "utf-8")
    state = fold_resume(path)
    assert state.torn_tail
    assert len(state.skipped) == 1
    assert state.skipped[0].offset == sum(len(line.encode()) for line in lines[:3])
    assert texts(state.history)[-2:] == ["first", "one"]
    assert state.token_usage is not None
    assert state.token_usage["total_token_usage"]["total_tokens"] == 8


def test_token_usage_found_before_a_late_compaction(tmp_path: Path) -> None:
    builder = RolloutBuilder().turn("t1", "first", "one", tokens=40)
    builder.add("compacted", {"message": "", "replacement_history": [user("kept")]})
    builder.turn("t2", "second", "two")
    state = fold_resume(builder.write(tmp_path / "r.jsonl"))
    assert state.token_usage is not None
    assert state.token_usage["last_token_usage"]["input_tokens"] == 40


def test_unreadable_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        fold_resume(tmp_path / "missing.jsonl")
