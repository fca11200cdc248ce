"""Small hand-written rollouts for the cases the Codex fixtures lack (compaction, rollback)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from support import CODEX_RICH_FIXTURES

THREAD = "01a1fc90-0000-7000-8000-000000000001"

# Real file names of the codex-rich fork/revert fixtures (from codex-home/sessions_listing.txt),
# so that parents can be found by thread id in a temporary sessions tree.
RICH_SESSION_NAMES = {
    "fork_and_revert__original": (
        "rollout-2026-11-21T05-31-40-01a1fc96-be8b-7441-95b1-9a5c3369fe94.jsonl"
    ),
    "fork_and_revert__revert_segment": (
        "rollout-2026-11-21T05-31-40-01a1fc96-be8b-7441-95b1-9a5c3369fe94"
        "_01a1fc96-c117-78f2-9c30-438d525526ff.jsonl"
    ),
    "fork_and_revert__full_fork": (
        "rollout-2026-11-21T05-31-40-01a1fc96-c049-7173-b982-c45872c93136.jsonl"
    ),
    "tui_fork_last__base": "rollout-2026-11-21T05-37-02-01a1fc9b-aa09-79a1-bcb6-50c93e1966b1.jsonl",
    "tui_fork_last__fork": "rollout-2026-11-21T05-37-04-01a1fc9b-b08a-7d40-ae8c-a79a71cfa7e5.jsonl",
    "tui_backtrack_esc_esc__original": (
        "rollout-2026-11-21T05-37-07-01a1fc9b-bbc7-7163-bc38-8429c0b31efd.jsonl"
    ),
    "tui_backtrack_esc_esc__revert_segment": (
        "rollout-2026-11-21T05-37-10-01a1fc9b-bbc7-7163-bc38-8429c0b31efd"
        "_01a1fc9b-c7d4-73d2-ba2d-4e7fec0f2672.jsonl"
    ),
}


def install_rich_sessions(home: Path, *scenarios: str) -> dict[str, Path]:
    """Copy codex-rich rollouts into ``home/sessions/2026/11/21`` under their real names."""
    day = home / "sessions" / "2026" / "11" / "21"
    day.mkdir(parents=True, exist_ok=True)
    placed = {}
    for scenario in scenarios:
        target = day / RICH_SESSION_NAMES[scenario]
        shutil.copyfile(CODEX_RICH_FIXTURES / "rollouts" / f"{scenario}.rollout.jsonl", target)
        placed[scenario] = target
    return placed


class RolloutBuilder:
    """Writes Codex-shaped lines with consecutive ordinals."""

    def __init__(self, thread_id: str = THREAD) -> None:
        self.thread_id = thread_id
        self.lines: list[dict[str, Any]] = []
        self.add("session_meta", {"id": thread_id, "cwd": "/repo", "model_provider": "mock"})

    def add(self, kind: str, payload: dict[str, Any]) -> RolloutBuilder:
        ordinal = len(self.lines)
        self.lines.append(
            {
                "timestamp": f"2026-11-21T05:00:{ordinal % 60:02d}.000Z",
                "ordinal": ordinal,
                "type": kind,
                "payload": payload,
            }
        )
        return self

    def event(self, kind: str, **fields: Any) -> RolloutBuilder:
        return self.add("event_msg", {"type": kind, **fields})

    def item(self, item: dict[str, Any]) -> RolloutBuilder:
        return self.add("response_item", item)

    def turn(
        self,
        turn_id: str,
        prompt: str,
        reply: str,
        *,
        model: str = "mock-model",
        tokens: int | None = None,
    ) -> RolloutBuilder:
        """A complete paginated turn: context, user message, a reply, token count."""
        self.event("task_started", turn_id=turn_id)
        self.item(developer(f"<permissions instructions>turn {turn_id}</permissions instructions>"))
        self.item(user("<environment_context>\n  <cwd>/repo</cwd>\n</environment_context>"))
        self.add(
            "turn_context",
            {"turn_id": turn_id, "cwd": "/repo", "approval_policy": "on-request",
             "sandbox_policy": {"type": "read-only"}, "model": model, "summary": "auto"},
        )
        self.item(user(prompt))
        self.event(
            "item_completed",
            thread_id=self.thread_id,
            turn_id=turn_id,
            item={"type": "UserMessage", "id": f"u-{turn_id}",
                  "content": [{"type": "text", "text": prompt, "text_elements": []}]},
        )
        self.item(assistant(reply))
        if tokens is not None:
            usage = {"input_tokens": tokens, "cached_input_tokens": 0, "output_tokens": 1,
                     "reasoning_output_tokens": 0, "total_tokens": tokens + 1}
            self.event("token_count", info={"total_token_usage": usage, "last_token_usage": usage,
                                             "model_context_window": 1000}, rate_limits=None)
        self.event("task_complete", turn_id=turn_id, last_agent_message=reply)
        return self

    def text(self) -> str:
        return "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in self.lines)

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.text(), encoding="utf-8")
        return path


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def developer(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "developer",
            "content": [{"type": "input_text", "text": text}]}


def assistant(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant",
            "content": [{"type": "output_text", "text": text}]}


def texts(history: list[dict[str, Any]]) -> list[str]:
    """The first text of each message item, for compact assertions."""
    found = []
    for item in history:
        content = item.get("content") or [{}]
        found.append(content[0].get("text", item.get("type")))
    return found
