"""Generated files never crash the reader: every byte is a line, a problem or a torn tail."""

from __future__ import annotations

import tempfile
from pathlib import Path

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from llmx.events.reader import RolloutReader

fragments = st.one_of(
    st.binary(max_size=40),
    st.just(b'{"timestamp":"t","ordinal":1,"type":"event_msg","payload":{"type":"task_started"}}'),
    st.just(b'{"type":"message","role":"user","content":[]}'),
    st.builds(
        lambda d: msgspec.json.encode(d),
        st.dictionaries(st.sampled_from(["type", "payload", "record_type", "id", "x"]),
                        st.text(max_size=8) | st.integers(), max_size=4),
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(fragments, max_size=12), st.booleans())
def test_generated_files_never_crash_the_reader(pieces: list[bytes], newline_at_end: bool) -> None:
    data = b"\n".join(pieces) + (b"\n" if newline_at_end else b"")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "generated.jsonl"
        path.write_bytes(data)
        reader = RolloutReader(path, max_line_bytes=64)
        lines = list(reader)
        for line in lines:
            line.item()
    raw_lines = data.split(b"\n")
    complete = raw_lines[:-1]
    tail = raw_lines[-1]
    non_blank = [raw for raw in complete if raw.strip()]
    assert reader.line_count == len(non_blank)
    assert len(lines) + len(reader.problems) == len(non_blank)
    assert (reader.torn_tail is not None) == bool(tail)
    if reader.torn_tail is not None:
        assert reader.torn_tail.length == len(tail)
        assert reader.torn_tail.offset == len(data) - len(tail)
    assert reader.position <= len(data) - len(tail)
