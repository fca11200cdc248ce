"""The partial ``*Head`` Structs stay in step with the full Structs they stand for."""

from __future__ import annotations

import msgspec
import pytest
from support import fixture_rollouts

from llmx.events.event_msgs import (
    EventHead,
    ItemCompleted,
    ItemCompletedHead,
    TaskStarted,
    ThreadRolledBack,
    TokenCount,
    TokenCountHead,
    TokenUsageHead,
    TokenUsageInfo,
    TokenUsageInfoHead,
    TurnAborted,
    UserMessage,
    UserMessageHead,
    decode_event_head,
)
from llmx.events.primitives import TextInput, TokenUsage
from llmx.events.reader import RolloutReader
from llmx.events.records import (
    GitInfo,
    GitInfoHead,
    HistoryBase,
    HistoryBaseHead,
    LineType,
    SessionMeta,
    SessionMetaHead,
    SessionMetaSummaryHead,
    TurnContext,
    TurnContextSummaryHead,
    decode_session_meta_head,
)
from llmx.events.turn_items import TurnItemTextHead, UserInputHead, UserMessageItem


def _fields(struct: type[msgspec.Struct]) -> set[str]:
    return set(struct.__struct_fields__)


@pytest.mark.parametrize(
    ("head", "full"),
    [
        (EventHead, TaskStarted),
        (EventHead, TurnAborted),
        (EventHead, ThreadRolledBack),
        (EventHead, ItemCompleted),
        (HistoryBaseHead, HistoryBase),
        (SessionMetaHead, SessionMeta),
    ],
)
def test_head_fields_are_fields_of_the_full_struct(
    head: type[msgspec.Struct], full: type[msgspec.Struct]
) -> None:
    # Each full Struct must define the head fields it is paired with here (besides the tag).
    wanted = {
        TaskStarted: {"turn_id"},
        TurnAborted: {"turn_id"},
        ThreadRolledBack: {"num_turns"},
        ItemCompleted: {"turn_id", "item"},
        HistoryBase: _fields(HistoryBaseHead),
        SessionMeta: _fields(SessionMetaHead),
    }[full]
    assert wanted <= _fields(head)
    assert wanted <= _fields(full)


def test_heads_agree_with_full_decodes_on_every_fixture_line() -> None:
    checked = 0
    for path in fixture_rollouts():
        for line in RolloutReader(path):
            if line.type == LineType.EVENT_MSG:
                full = line.item()
                head = decode_event_head(line.payload_raw)
                assert head is not None
                tag = getattr(type(full), "__struct_config__", None)
                if tag is None:
                    continue
                assert head.type == tag.tag
                for name in ("turn_id", "num_turns"):
                    value = getattr(full, name, msgspec.UNSET)
                    if isinstance(value, (str, int)) and value != "":
                        assert getattr(head, name) == value
                item = getattr(full, "item", None)
                if item is not None:
                    assert head.item_type == type(item).__struct_config__.tag
                checked += 1
            elif line.type == LineType.SESSION_META:
                meta = line.item()
                head = decode_session_meta_head(line.payload_raw)
                assert head is not None
                if isinstance(meta, SessionMeta):
                    assert head.id == meta.id
                    if isinstance(meta.history_base, HistoryBase):
                        assert head.history_base is not None
                        assert head.history_base.thread_id == meta.history_base.thread_id
    assert checked > 100


def test_heads_accept_what_the_full_struct_rejects() -> None:
    head = decode_session_meta_head(b'{"history_base":{"thread_id":"t","end_byte_offset":5}}')
    assert head is not None
    assert head.history_base is not None
    assert head.history_base.end_ordinal_exclusive is None
    assert decode_event_head(b'{"type":"task_started","turn_id":7}') is None


def test_the_listing_heads_are_fields_of_the_full_structs() -> None:
    # The session listing's partial Structs (llmx.projections.sessions.summary) name only
    # fields their full Structs have, so a renamed field is caught here as well.
    pairs: list[tuple[type[msgspec.Struct], type[msgspec.Struct]]] = [
        (SessionMetaSummaryHead, SessionMeta),
        (GitInfoHead, GitInfo),
        (TurnContextSummaryHead, TurnContext),
        (UserMessageHead, UserMessage),
        (TokenCountHead, TokenCount),
        (TokenUsageInfoHead, TokenUsageInfo),
        (TokenUsageHead, TokenUsage),
        (ItemCompletedHead, ItemCompleted),
        (UserInputHead, TextInput),
    ]
    for head, full in pairs:
        assert _fields(head) - {"type"} <= _fields(full), head.__name__
    item_fields = _fields(TurnItemTextHead) - {"type"}
    assert item_fields <= _fields(UserMessageItem)
