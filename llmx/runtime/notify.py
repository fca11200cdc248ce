"""``notify``: run the configured program with Codex's turn-complete JSON as last argument.

The program is started and left to run (Codex does not wait for it either); a missing
program is reported once on stderr and never fails the turn.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def turn_complete_payload(
    *,
    thread_id: str,
    turn_id: str,
    cwd: Path,
    input_messages: Sequence[str],
    last_assistant_message: str | None,
) -> str:
    return json.dumps(
        {
            "type": "agent-turn-complete",
            "thread-id": thread_id,
            "turn-id": turn_id,
            "cwd": str(cwd),
            "input-messages": list(input_messages),
            "last-assistant-message": last_assistant_message,
        },
        ensure_ascii=False,
    )


def run_notify(program: Sequence[str], payload: str) -> subprocess.Popen[bytes] | None:
    """Start ``program + [payload]`` detached from our stdio; None if it cannot start."""
    if not program:
        return None
    try:
        return subprocess.Popen(
            [*program, payload],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        print(f"warning: notify program {program[0]!r} could not start: {exc}", file=sys.stderr)
        return None
