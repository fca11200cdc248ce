"""The OpenTelemetry fold over every rollout the real Codex CLI wrote (tests/fixtures):
spans nest, records point at spans that exist, and the same lines always give the same
records (what makes ``llmx otel export`` equal to a live run)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from support import CODEX_RICH_FIXTURES, fixture_rollouts

from llmx.events.lines import LineError, decode_line
from llmx.projections.otel_fold import (
    REDACTED,
    FoldOptions,
    LogRecord,
    OtelFold,
    Record,
    SpanRecord,
)


def _fold(path: Path, options: FoldOptions) -> list[Record]:
    fold = OtelFold(options)
    records: list[Record] = []
    for line in path.read_bytes().splitlines():
        if line.strip():
            try:
                decoded = decode_line(line)
            except LineError:
                continue
            records.extend(fold.feed(decoded))
    return records + fold.finish()


@pytest.mark.parametrize("path", fixture_rollouts(), ids=lambda p: p.name)
def test_spans_nest_and_records_point_at_them(path: Path) -> None:
    records = _fold(path, FoldOptions())
    assert records == _fold(path, FoldOptions())
    spans = [r for r in records if isinstance(r, SpanRecord)]
    ids = {span.span_id for span in spans}
    assert len(ids) == len(spans)
    [thread] = [span for span in spans if span.name == "llmx.thread"]
    assert thread.parent_id is None
    for span in spans:
        assert span.trace_id == thread.trace_id
        assert span.start_ns <= span.end_ns
        if span is not thread:
            assert span.parent_id in ids, span
    for log in (r for r in records if isinstance(r, LogRecord)):
        assert log.span_id is None or log.span_id in ids, log
        if log.event_name == "codex.user_prompt":
            assert log.attributes["prompt"] == REDACTED


def test_tool_results_are_capped_and_prompts_shown_only_when_asked() -> None:
    paths = [p for p in fixture_rollouts()
             if any(r.event_name == "codex.tool_result"
                    for r in _fold(p, FoldOptions()) if isinstance(r, LogRecord))]
    assert paths, "no fixture rollout has a tool call"
    records = _fold(paths[0], FoldOptions(log_user_prompt=True, tool_result_max_bytes=5))
    results = [r for r in records if isinstance(r, LogRecord)
               and r.event_name == "codex.tool_result"]
    assert all(len(r.attributes["output"].encode()) <= 5 for r in results)
    prompts = [r for r in records if isinstance(r, LogRecord)
               and r.event_name == "codex.user_prompt"]
    assert prompts
    assert all(r.attributes["prompt"] != REDACTED for r in prompts)


def _ns(stamp: str) -> int:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def test_a_model_request_ends_with_its_answer_not_with_its_tools() -> None:
    """Codex 0.169 (and llmx) record a response's token_count after the outputs of the
    tools it called: the request's span still ends with the model's last item, and the
    next request starts once the tools answered."""
    path = CODEX_RICH_FIXTURES / "rollouts" / "approval_untrusted_accept.rollout.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    kinds = [line["payload"].get("type") for line in lines]
    call, output = kinds.index("function_call"), kinds.index("function_call_output")
    counted = kinds.index("token_count")
    assert call < output < counted  # Codex's order
    requests = [r for r in _fold(path, FoldOptions()) if isinstance(r, SpanRecord)
                and r.name == "llmx.model_request"]
    assert requests[0].end_ns == _ns(lines[call]["timestamp"])
    assert requests[1].start_ns == _ns(lines[counted]["timestamp"])
    assert requests[1].start_ns >= _ns(lines[output]["timestamp"])
    for request in requests:
        assert request.start_ns <= request.end_ns
