"""The resume picker's preview: a session's last messages, read from the end of its file."""

from __future__ import annotations

import json
from pathlib import Path

from llmx.projections.sessions.preview import TAIL_BYTES, PreviewLine, last_messages

CODEX_ROLLOUT = (Path(__file__).resolve().parents[1] / "fixtures" / "codex" / "rollouts"
                 / "exec_json_shell_readonly_denied.rollout.jsonl")


def event(payload: dict[str, object]) -> str:
    return json.dumps({"timestamp": "2026-11-21T06:00:00.000Z", "type": "event_msg",
                       "payload": payload}) + "\n"


def item(kind: str, text: str) -> str:
    return event({"type": "item_completed", "thread_id": "t", "turn_id": "u",
                  "item": {"type": kind, "id": "i", "content": [{"type": "text", "text": text}]}})


def test_a_codex_rollout_gives_its_prompt_and_answer() -> None:
    assert last_messages(CODEX_ROLLOUT) == [
        PreviewLine("user", "write hello to out.txt"),
        PreviewLine("assistant", "I ran the command; see the tool output above."),
    ]


def test_only_the_tail_is_read_and_the_last_lines_kept(tmp_path: Path) -> None:
    path = tmp_path / "rollout.jsonl"
    path.write_text(
        item("UserMessage", "the first prompt, far back")
        + event({"type": "agent_message", "message": "x" * (TAIL_BYTES + 10)})
        + item("UserMessage", "second prompt")
        # The same answer as an item and as Codex's older event: taken once.
        + item("AgentMessage", "line one\n\nline two")
        + event({"type": "agent_message", "message": "line one\n\nline two"})
        + event({"type": "user_message", "message": "third prompt"})
        + "not json\n"
        + item("AgentMessage", "   ")
    )
    assert last_messages(path, 10) == [
        PreviewLine("user", "second prompt"), PreviewLine("assistant", "line one"),
        PreviewLine("assistant", "line two"), PreviewLine("user", "third prompt"),
    ]
    assert last_messages(path, 2) == [PreviewLine("assistant", "line two"),
                                      PreviewLine("user", "third prompt")]
    assert last_messages(tmp_path / "missing.jsonl") == []
