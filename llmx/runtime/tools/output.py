"""What the model sees of a tool's result: Codex's header lines and its truncation.

The budget is counted in tokens estimated as bytes / 4 (rounded up), which is how Codex
estimates them; when output exceeds the budget, the middle is cut out and replaced by a
marker naming how many tokens were dropped, so both the start (the command's banner,
first errors) and the end (the final status) survive.
"""

from __future__ import annotations

import secrets

DEFAULT_MAX_OUTPUT_TOKENS = 10_000
BYTES_PER_TOKEN = 4


def approx_tokens(text: str) -> int:
    return -(-len(text.encode("utf-8")) // BYTES_PER_TOKEN)


def truncate_middle(text: str, max_tokens: int) -> str:
    """``text`` cut to about ``max_tokens`` by removing its middle (marker included)."""
    total = approx_tokens(text)
    if total <= max_tokens:
        return text
    raw = text.encode("utf-8")
    budget = max(max_tokens, 0) * BYTES_PER_TOKEN
    head = raw[: budget // 2].decode("utf-8", errors="ignore")
    tail = raw[len(raw) - budget // 2 :].decode("utf-8", errors="ignore") if budget else ""
    removed = total - approx_tokens(head) - approx_tokens(tail)
    return f"{head}…{removed} tokens truncated…{tail}"


def exec_command_output(
    *, wall_seconds: float, exit_code: int, output: str, max_tokens: int | None = None
) -> str:
    """The ``function_call_output`` text of a finished ``exec_command``."""
    budget = DEFAULT_MAX_OUTPUT_TOKENS if max_tokens is None else max_tokens
    return (
        f"Chunk ID: {secrets.token_hex(3)}\n"
        f"Wall time: {wall_seconds:.4f} seconds\n"
        f"Process exited with code {exit_code}\n"
        f"Original token count: {approx_tokens(output)}\n"
        f"Output:\n{truncate_middle(output, budget)}"
    )


def aborted_output(wall_seconds: float) -> str:
    """The output of a call cut short by an interrupt or an ``abort`` decision."""
    return f"Wall time: {wall_seconds:.1f} seconds\naborted by user"


def rejected_output(tool_name: str) -> str:
    """The output of a call the user denied (Codex's wording, kept for model parity)."""
    return f'{tool_name} failed: CreateProcess {{ message: "Rejected(\\"rejected by user\\")" }}'


def apply_patch_output(*, wall_seconds: float, exit_code: int, output: str) -> str:
    return f"Exit code: {exit_code}\nWall time: {wall_seconds:.1f} seconds\nOutput:\n{output}"
