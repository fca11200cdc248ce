"""The raw-bytes resume fold gives what the dict fold gives, on every rollout we have."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from projections.rollout_builder import RICH_SESSION_NAMES, RolloutBuilder, install_rich_sessions
from projections.rollout_builder import user as user_message
from support import fixture_rollouts

from llmx.events.reader import RolloutReader
from llmx.events.records import LineType, TurnContext, TurnContextHead
from llmx.events.response_items import (
    CustomToolCall,
    CustomToolCallOutput,
    FunctionCall,
    FunctionCallOutput,
    Message,
    ResponseItemHead,
)
from llmx.projections.resume import (
    ResumeState,
    fold_resume,
    fold_resume_raw,
    prompt_input,
    prompt_input_raw,
)
from llmx.projections.resume_items import RawItem

INTERNAL = "internal_chat_message_metadata_passthrough"


def _assert_same(dict_state: ResumeState[Any], raw_state: ResumeState[RawItem]) -> None:
    assert [item.value() for item in raw_state.history] == dict_state.history
    sent = [msgspec.json.decode(bytes(raw)) for raw in prompt_input_raw(raw_state.history)]
    assert sent == prompt_input(dict_state.history)
    assert raw_state.reference_context == dict_state.reference_context
    assert raw_state.previous_model == dict_state.previous_model
    assert raw_state.settings == dict_state.settings
    assert raw_state.token_usage == dict_state.token_usage
    assert raw_state.thread_id == dict_state.thread_id
    assert raw_state.skipped == dict_state.skipped
    assert raw_state.lines_read == dict_state.lines_read


def _standalone_rollouts() -> list[Path]:
    # Forks and revert segments need their parents in a sessions tree (below).
    return [
        path for path in fixture_rollouts()
        if path.name.removesuffix(".rollout.jsonl") not in RICH_SESSION_NAMES
    ]


@pytest.mark.parametrize("path", _standalone_rollouts(), ids=lambda path: path.name)
def test_raw_fold_equals_dict_fold_on_codex_rollouts(path: Path) -> None:
    raw_state = fold_resume_raw(path)
    _assert_same(fold_resume(path), raw_state)
    # Recorded items are kept byte for byte until sent.
    recorded = {line.payload_raw for line in RolloutReader(path)}
    replaced = any(b"replacement_history" in payload for payload in recorded)
    if not replaced:
        assert all(item.data in recorded for item in raw_state.history)


def test_raw_fold_equals_dict_fold_across_forks(tmp_path: Path) -> None:
    placed = install_rich_sessions(tmp_path, *RICH_SESSION_NAMES)
    for path in placed.values():
        _assert_same(fold_resume(path), fold_resume_raw(path))


def _compaction_and_rollback(tmp_path: Path) -> Path:
    builder = RolloutBuilder().turn("t1", "first", "one").turn("t2", "second", "two")
    builder.add("compacted", {"message": "", "replacement_history": [
        user_message("first"), user_message("second")]})
    builder.turn("t3", "third", "three").turn("t4", "fourth", "four")
    builder.event("thread_rolled_back", num_turns=1)
    builder.add("compacted", {"message": "LEGACY SUMMARY"})
    builder.turn("t5", "fifth", "five", tokens=3)
    return builder.write(tmp_path / "r.jsonl")


def test_raw_fold_equals_dict_fold_through_compaction_and_rollback(tmp_path: Path) -> None:
    path = _compaction_and_rollback(tmp_path)
    dict_state = fold_resume(path, initial_context=[user_message("<environment_context/>")])
    raw_state = fold_resume_raw(path, initial_context=[user_message("<environment_context/>")])
    _assert_same(dict_state, raw_state)
    texts = [json.dumps(item) for item in dict_state.history]
    assert any("LEGACY SUMMARY" in text for text in texts)
    assert not any("fourth" in text for text in texts)


def _call(call_id: str, **extra: Any) -> dict[str, Any]:
    return {"type": "function_call", "name": "shell", "arguments": "{}", "call_id": call_id,
            **extra}


def _output(call_id: str, **extra: Any) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": "ok", **extra}


def test_internal_field_is_stripped_wherever_it_sits(tmp_path: Path) -> None:
    meta = {"turn_id": "t1", "create_time": 1.5}
    nested = {"type": "message", "role": "assistant", "content": [
        {"type": "output_text", "text": "x", INTERNAL: meta}], INTERNAL: meta}
    builder = RolloutBuilder()
    builder.event("task_started", turn_id="t1")
    builder.add("turn_context", {"turn_id": "t1", "cwd": "/repo", "model": "m"})
    builder.item({INTERNAL: meta, "type": "message", "role": "user",
                  "content": [{"type": "input_text", "text": "first key"}]})
    builder.item({"type": "message", INTERNAL: None, "role": "user",
                  "content": [{"type": "input_text", "text": "middle, null"}]})
    builder.item(nested)
    builder.item(_call("c1", **{INTERNAL: meta}))
    builder.item(_output("c1", **{INTERNAL: meta}))
    builder.item(_call("c2"))  # never answered: Codex sends "aborted"
    builder.item(_output("gone"))  # its call is not in history: dropped
    builder.item({"type": "ghost_snapshot", "ghost_commit": {}})
    builder.item({"type": "message", "role": "system", "content": []})
    builder.event("task_complete", turn_id="t1")
    path = builder.write(tmp_path / "r.jsonl")
    # One item written with spaces, as another writer might.
    spaced = json.dumps({"type": "message", "role": "user", INTERNAL: meta,
                         "content": [{"type": "input_text", "text": "spaced"}]})
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(3, json.dumps({"timestamp": "2026-11-21T05:00:00.000Z", "type":
                                "response_item", "payload": json.loads(spaced)}, indent=None,
                               separators=(", ", ": ")) + "\n")
    path.write_text("".join(lines))
    raw_state = fold_resume_raw(path)
    _assert_same(fold_resume(path), raw_state)
    sent = [msgspec.json.decode(bytes(raw)) for raw in prompt_input_raw(raw_state.history)]
    assert not any(INTERNAL in item for item in sent)
    # The nested copy is content, not the internal field: it stays.
    assert sent[3]["content"][0][INTERNAL] == meta
    assert {"type": "function_call_output", "call_id": "c2", "output": "aborted"} in sent
    assert not any(item.get("call_id") == "gone" for item in sent)
    assert len(raw_state.history) == 8


def test_lines_of_older_eras_and_bad_lines_are_read_as_before(tmp_path: Path) -> None:
    builder = RolloutBuilder().turn("t1", "first", "one", tokens=4)
    lines = builder.text().splitlines(keepends=True)
    record_type = json.dumps({"record_type": "response", "timestamp": "2026-11-21T05:00:00Z",
                              "type": "message", "role": "user",
                              "content": [{"type": "input_text", "text": "flattened"}]})
    bad_utf8 = (b'{"timestamp":"2026-11-21T05:00:00.000Z","type":"response_item","payload":'
                b'{"type":"message","role":"user","content":[{"type":"input_text",'
                b'"text":"caf\xe9"}]}}\n')
    data = "".join(lines[:2]).encode() + record_type.encode() + b"\n" + bad_utf8
    data += b"[1, 2]\n" + "".join(lines[2:]).encode()
    path = tmp_path / "r.jsonl"
    path.write_bytes(data)
    dict_state, raw_state = fold_resume(path), fold_resume_raw(path)
    _assert_same(dict_state, raw_state)
    reasons = [problem.reason for problem in raw_state.skipped]
    assert len(reasons) == 2
    assert "UTF-8" in reasons[0]
    assert "list" in reasons[1]
    assert any("flattened" in json.dumps(item) for item in dict_state.history)
    flattened = next(item for item in dict_state.history if "flattened" in json.dumps(item))
    assert "record_type" not in flattened


def test_item_and_turn_context_heads_are_fields_of_the_full_structs() -> None:
    head_fields = set(ResponseItemHead.__struct_fields__)
    assert {"type", "role", "call_id"} == head_fields
    assert "role" in Message.__struct_fields__
    for call in (FunctionCall, FunctionCallOutput, CustomToolCall, CustomToolCallOutput):
        assert "call_id" in call.__struct_fields__
    assert set(TurnContextHead.__struct_fields__) <= set(TurnContext.__struct_fields__)


def test_item_heads_agree_with_full_decodes_on_every_fixture_line() -> None:
    checked = 0
    for path in fixture_rollouts():
        for line in RolloutReader(path):
            if line.type == LineType.RESPONSE_ITEM:
                value = msgspec.json.decode(line.payload_raw)
                head = msgspec.json.decode(line.payload_raw, type=ResponseItemHead)
                assert (head.type, head.role, head.call_id) == (
                    value.get("type"), value.get("role"), value.get("call_id"))
                checked += 1
            elif line.type == LineType.TURN_CONTEXT:
                value = msgspec.json.decode(line.payload_raw)
                context = msgspec.json.decode(line.payload_raw, type=TurnContextHead)
                assert (context.turn_id, context.model) == (
                    value.get("turn_id"), value.get("model"))
    assert checked > 100


_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("turn"), st.sampled_from(["model-a", "model-b"])),
        st.tuples(st.just("calls"), st.booleans()),
        st.tuples(st.just("compacted"), st.integers(0, 2)),
        st.tuples(st.just("legacy_compacted"), st.just(0)),
        st.tuples(st.just("rollback"), st.integers(1, 3)),
        st.tuples(st.just("aborted"), st.just(0)),
    ),
    max_size=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=_STEPS)
def test_raw_and_dict_folds_agree_on_generated_rollouts(
    tmp_path: Path, steps: list[tuple[str, Any]]
) -> None:
    builder = RolloutBuilder()
    for index, (step, value) in enumerate(steps):
        turn_id = f"t{index}"
        if step == "turn":
            builder.turn(turn_id, f"prompt {index}", f"reply {index}", model=value,
                         tokens=index)
        elif step == "calls":
            builder.event("task_started", turn_id=turn_id)
            builder.item(user_message(f"run {index}"))
            builder.item(_call(f"c{index}", **{INTERNAL: {"turn_id": turn_id}}))
            if value:
                builder.item(_output(f"c{index}", **{INTERNAL: {"turn_id": turn_id}}))
            builder.item(_output(f"orphan{index}"))
            builder.event("task_complete", turn_id=turn_id)
        elif step == "compacted":
            kept = [user_message(f"kept {index}.{n}") for n in range(value)]
            builder.event("task_started", turn_id=turn_id)
            builder.add("compacted", {"message": "", "replacement_history": kept})
            builder.event("task_complete", turn_id=turn_id)
        elif step == "legacy_compacted":
            builder.add("compacted", {"message": f"summary {index}"})
        elif step == "rollback":
            builder.event("thread_rolled_back", num_turns=value)
        else:
            builder.event("task_started", turn_id=turn_id)
            builder.item(user_message(f"interrupted {index}"))
            builder.event("turn_aborted", turn_id=turn_id, reason="interrupted")
    path = builder.write(tmp_path / "generated.jsonl")
    context = [user_message("<environment_context/>")]
    _assert_same(fold_resume(path, initial_context=context),
                 fold_resume_raw(path, initial_context=context))


def test_raw_prompt_input_is_what_codex_sent_on_resume(tmp_path: Path) -> None:
    from projections.test_resume import RESUME_REQUESTS, _prefix_before_resumed_turn

    sent = json.loads(RESUME_REQUESTS.read_text().splitlines()[0])["body"]["input"]
    state = fold_resume_raw(_prefix_before_resumed_turn(tmp_path))
    body = msgspec.json.encode({"input": prompt_input_raw(state.history)})
    assert msgspec.json.decode(body)["input"] == sent[1:-3]
