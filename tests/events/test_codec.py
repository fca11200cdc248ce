"""The line codec: old eras, unknown shapes, lines llmx creates, and generated input."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmx.events.event_msgs import (
    EventMsg,
    ExecApprovalRequest,
    ItemCompleted,
    TaskComplete,
    TokenCount,
)
from llmx.events.ids import format_timestamp, new_thread_id
from llmx.events.lines import Era, LineError, RolloutLine, UnknownPayload, decode_line
from llmx.events.ops import ExecApproval, UserInputOp
from llmx.events.primitives import Duration, TextInput
from llmx.events.records import (
    Approver,
    EscalationRecord,
    ExecutionMode,
    LineType,
    SessionMeta,
    SubmissionRecord,
)
from llmx.events.response_items import Message, ResponseItem
from llmx.events.turn_items import AgentMessageItem, AgentText

# -- older eras -----------------------------------------------------------------------------

E0_FILE = [
    b'{"id":"5973b6c0-94b8-487b-a530-2aeb6098ae0e","timestamp":"2025-06-01T10:00:00.000Z",'
    b'"instructions":null,"git":{"commit_hash":"abc","branch":"main"}}',
    b'{"record_type":"state"}',
    b'{"type":"message","role":"user","content":[{"type":"input_text","text":"hello"}]}',
    b'{"type":"function_call","name":"shell","arguments":"{\\"command\\":[\\"ls\\"]}",'
    b'"call_id":"c1"}',
    b'{"record_type":"state","previous_response_id":null}',
]


def test_e0_bare_meta_and_items_load() -> None:
    lines = [decode_line(raw) for raw in E0_FILE]
    bare, marker = Era.BARE, Era.RECORD_TYPE
    assert [line.era for line in lines] == [bare, marker, bare, bare, marker]
    assert [line.type for line in lines] == [
        LineType.SESSION_META,
        LineType.STATE,
        LineType.RESPONSE_ITEM,
        LineType.RESPONSE_ITEM,
        LineType.STATE,
    ]
    meta = lines[0].item()
    assert isinstance(meta, SessionMeta)
    assert meta.id == "5973b6c0-94b8-487b-a530-2aeb6098ae0e"
    assert meta.source == "vscode"  # Codex's default when the field is missing
    message = lines[2].item()
    assert isinstance(message, Message)
    assert message.text() == "hello"
    # State markers carry nothing typed; they are kept, not errors.
    assert isinstance(lines[1].item(), UnknownPayload)
    assert all(line.to_bytes() == raw + b"\n" for line, raw in zip(lines, E0_FILE, strict=True))


def test_record_type_variant_loads() -> None:
    raws = [
        b'{"record_type":"session_meta","timestamp":"2025-08-01T00:00:00.000Z",'
        b'"id":"0198aa00-0000-7000-8000-000000000000","cwd":"/repo","originator":"codex_cli_rs",'
        b'"cli_version":"0.20.0"}',
        b'{"record_type":"response","timestamp":"2025-08-01T00:00:01.000Z","type":"message",'
        b'"role":"assistant","content":[{"type":"output_text","text":"hi"}]}',
        b'{"record_type":"event","timestamp":"2025-08-01T00:00:02.000Z",'
        b'"payload":{"type":"agent_message","message":"hi"}}',
        b'{"record_type":"prev_session_meta","timestamp":"2025-08-01T00:00:03.000Z",'
        b'"id":"0198aa00-0000-7000-8000-000000000001"}',
    ]
    lines = [decode_line(raw) for raw in raws]
    assert all(line.era is Era.RECORD_TYPE for line in lines)
    kinds = ["session_meta", "response_item", "event_msg", "session_meta"]
    assert [line.type for line in lines] == kinds
    meta = lines[0].item()
    assert isinstance(meta, SessionMeta)
    assert meta.cwd == "/repo"
    reply = lines[1].item()
    assert isinstance(reply, Message)
    assert reply.text() == "hi"
    assert lines[2].payload_type == "agent_message"
    assert lines[1].timestamp == "2025-08-01T00:00:01.000Z"


def test_e1_envelope_without_ordinal() -> None:
    line = decode_line(
        b'{"timestamp":"2026-01-03T12:00:01.123Z","type":"event_msg",'
        b'"payload":{"type":"token_count","input_tokens":10,"total_tokens":12}}'
    )
    assert line.era is Era.ENVELOPE
    assert line.ordinal is None
    # E0's bare usage payload: typed as TokenCount (no info), the raw line keeps the numbers.
    count = line.payload_as(EventMsg)
    assert isinstance(count, TokenCount)
    assert count.info is None
    assert json.loads(line.raw)["payload"]["input_tokens"] == 10


# -- unknown is not an error ----------------------------------------------------------------


def test_unknown_line_type_event_type_and_fields_survive() -> None:
    raws = [
        b'{"timestamp":"2026-09-01T00:00:00.000Z","ordinal":3,"type":"inter_agent_communication",'
        b'"payload":{"from":"a","to":"b"}}',
        b'{"timestamp":"2026-09-01T00:00:00.000Z","ordinal":4,"type":"event_msg",'
        b'"payload":{"type":"hook_started","hook":"x"}}',
        b'{"timestamp":"2026-09-01T00:00:00.000Z","ordinal":5,"type":"event_msg",'
        b'"payload":{"type":"task_complete","turn_id":"t","last_agent_message":null,"brand_new":[1]},'
        b'"extra":true}',
        b'{"timestamp":"2026-09-01T00:00:00.000Z","ordinal":6,"type":"event_msg","payload":'
        b'{"type":"item_completed","thread_id":"x","turn_id":"t","item":{"type":"Sleep","id":"s",'
        b'"duration_ms":5}}}',
    ]
    lines = [decode_line(raw) for raw in raws]
    first = lines[0].item()
    assert isinstance(first, UnknownPayload)
    assert first.line_type == "inter_agent_communication"
    assert first.value() == {"from": "a", "to": "b"}
    second = lines[1].item()
    assert isinstance(second, UnknownPayload)
    assert second.type == "hook_started"
    assert second.error is None  # an unknown variant, not a broken known one
    third = lines[2].item()
    assert isinstance(third, TaskComplete)
    assert third.turn_id == "t"
    fourth = lines[3].item()
    assert isinstance(fourth, UnknownPayload)
    assert fourth.type == "item_completed"
    assert fourth.error  # known event, unknown turn item: says why
    for line, raw in zip(lines, raws, strict=True):
        assert line.to_bytes() == raw + b"\n"


def test_known_tag_with_a_broken_shape_is_held_with_the_reason() -> None:
    line = decode_line(
        b'{"timestamp":"t","ordinal":1,"type":"event_msg","payload":{"type":"agent_message","message":5}}'
    )
    held = line.item()
    assert isinstance(held, UnknownPayload)
    assert held.type == "agent_message"
    assert held.error
    assert "message" in held.error


# -- lines llmx creates ----------------------------------------------------------------------


def test_created_line_has_codex_field_order_and_decodes_back() -> None:
    payload = TaskComplete(turn_id="t1", last_agent_message=None)
    line = RolloutLine.create(payload, ordinal=7, timestamp="2026-11-21T05:32:54.241Z")
    assert line.raw == (
        b'{"timestamp":"2026-11-21T05:32:54.241Z","ordinal":7,"type":"event_msg",'
        b'"payload":{"type":"task_complete","turn_id":"t1","last_agent_message":null}}'
    )
    again = decode_line(line.raw)
    assert again.item() == payload
    assert again.ordinal == 7
    assert again.era is Era.ORDINAL


def test_skip_if_none_fields_are_omitted_and_plain_options_are_null() -> None:
    request = ExecApprovalRequest(call_id="c", command=["ls"], cwd="/w", turn_id="t")
    encoded = json.loads(msgspec.json.encode(request))
    assert "reason" not in encoded
    assert "approval_id" not in encoded
    assert encoded["parsed_cmd"] == []
    assert request.answer_id() == "c"
    assert ExecApprovalRequest(call_id="c", command=[], cwd="/", approval_id="a").answer_id() == "a"
    meta = json.loads(msgspec.json.encode(SessionMeta(id="x")))
    assert meta["model_provider"] is None
    assert "git" not in meta


def test_durations_are_secs_and_nanos() -> None:
    assert msgspec.json.encode(Duration.from_seconds(1.25)) == b'{"secs":1,"nanos":250000000}'
    assert Duration(2, 500_000_000).total_seconds() == 2.5


def test_our_line_types_round_trip() -> None:
    submission = SubmissionRecord(
        id="s1", op=UserInputOp(items=[TextInput(text="fix it")])
    )
    decision = SubmissionRecord(id="s2", op=ExecApproval(id="call_1", decision="approved"))
    escalation = EscalationRecord(
        call_id="call_1",
        mode=ExecutionMode.BOUNDED,
        approved_by=Approver.USER,
        permissions={"file_system": {"write": ["/tmp/out"]}},
        decision_submission_id="s2",
    )
    for ordinal, payload in enumerate([submission, decision, escalation]):
        line = RolloutLine.create(payload, ordinal=ordinal)
        again = decode_line(line.raw)
        assert again.item() == payload
    assert RolloutLine.create(submission, ordinal=0).type == "submission"
    assert RolloutLine.create(escalation, ordinal=0).type == "escalation"
    decoded = json.loads(RolloutLine.create(decision, ordinal=1).raw)
    assert decoded["payload"] == {
        "id": "s2",
        "op": {"type": "exec_approval", "id": "call_1", "decision": "approved"},
    }


def test_item_completed_round_trips_with_a_typed_item() -> None:
    event = ItemCompleted(
        thread_id="th",
        turn_id="tu",
        item=AgentMessageItem(id="m", content=[AgentText(text="done")]),
        started_at_ms=1,
        completed_at_ms=2,
    )
    line = RolloutLine.create(event, ordinal=3)
    assert json.loads(line.raw)["payload"]["item"] == {
        "type": "AgentMessage",
        "id": "m",
        "content": [{"type": "Text", "text": "done"}],
    }
    again = decode_line(line.raw).payload_as(EventMsg)
    assert again == event


def test_a_non_payload_is_refused() -> None:
    with pytest.raises(TypeError, match="not a rollout line payload"):
        RolloutLine.create("text", ordinal=0)  # type: ignore[arg-type]


# -- bad lines --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[1,2]", "a JSON list, not an object"),
        (b'"text"', "a JSON str, not an object"),
        (b"42", "a JSON int, not an object"),
        (b'{"type": "event_msg", "payl', "not valid JSON"),
        (b'{"type":"event_msg","payload":{"a":"\xff"}}', "invalid UTF-8 at byte 36"),
        (b"", "an empty line"),
    ],
)
def test_bad_lines_raise_a_line_error_saying_why(raw: bytes, reason: str) -> None:
    with pytest.raises(LineError, match=re.escape(reason)):
        decode_line(raw)


# -- generated lines --------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
known_types = st.sampled_from([str(t) for t in LineType] + ["mystery", ""])
event_tags = st.sampled_from(
    ["task_started", "task_complete", "item_completed", "exec_command_end", "token_count", "nope"]
)


@st.composite
def line_objects(draw: st.DrawFn) -> dict[str, Any]:
    payload = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=5))
    if draw(st.booleans()):
        payload["type"] = draw(event_tags)
    obj: dict[str, Any] = {"timestamp": draw(st.text(max_size=30) | st.integers())}
    if draw(st.booleans()):
        obj["ordinal"] = draw(st.integers(0, 10**6) | st.text(max_size=3))
    obj["type"] = draw(known_types | json_values)
    if draw(st.booleans()):
        obj["payload"] = payload
    if draw(st.booleans()):
        obj["record_type"] = draw(st.sampled_from(["state", "event", "response", "other"]))
    obj.update(draw(st.dictionaries(st.text(max_size=6), json_values, max_size=2)))
    return obj


@settings(max_examples=400, deadline=None)
@given(line_objects())
def test_generated_lines_decode_type_and_round_trip(obj: dict[str, Any]) -> None:
    raw = msgspec.json.encode(obj)
    line = decode_line(raw)
    assert msgspec.json.decode(line.to_bytes()) == msgspec.json.decode(raw)
    # Typed access never raises: a Struct or an UnknownPayload holding the raw JSON.
    item = line.item()
    if isinstance(item, UnknownPayload):
        msgspec.json.decode(item.raw)
    line.payload_as(EventMsg)
    line.payload_as(ResponseItem)
    assert line.payload_type is None or isinstance(line.payload_type, str)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash_the_decoder(raw: bytes) -> None:
    try:
        line = decode_line(raw)
    except LineError as exc:
        message = str(exc)
    else:
        line.item()
        message = "decoded"
    assert message


# -- ids and timestamps -----------------------------------------------------------------------


def test_thread_ids_are_uuid7_and_time_ordered() -> None:
    first = new_thread_id(unix_ms=1_700_000_000_000)
    second = new_thread_id(unix_ms=1_700_000_000_001)
    parsed = uuid.UUID(first)
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert first < second
    assert int(parsed.hex[:12], 16) == 1_700_000_000_000
    assert len({new_thread_id() for _ in range(1000)}) == 1000


def test_timestamp_format_is_codex_utc_milliseconds() -> None:
    moment = datetime(2026, 11, 21, 5, 32, 54, 241_999, tzinfo=UTC)
    assert format_timestamp(moment) == "2026-11-21T05:32:54.241Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", format_timestamp())


