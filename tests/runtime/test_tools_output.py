"""What the model sees of tool results, the tool specs, and the command runner."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from support.waits import within

from llmx.runtime.model_families import model_family
from llmx.runtime.tools.output import approx_tokens, exec_command_output, truncate_middle
from llmx.runtime.tools.shell import run_command, shell_argv, spawn_unconfined
from llmx.runtime.tools.specs import WireApi, tool_specs


def test_token_estimate_is_bytes_over_four_rounded_up() -> None:
    assert approx_tokens("") == 0
    assert approx_tokens("hello\n") == 2
    assert approx_tokens("build ok\n") == 3


def test_exec_output_header_matches_codex() -> None:
    text = exec_command_output(wall_seconds=0.5, exit_code=1, output="boom\n")
    lines = text.split("\n")
    assert lines[0].startswith("Chunk ID: ")
    assert len(lines[0]) == len("Chunk ID: ") + 6
    assert lines[1:5] == ["Wall time: 0.5000 seconds", "Process exited with code 1",
                          "Original token count: 2", "Output:"]
    assert text.endswith("Output:\nboom\n")


def test_truncation_keeps_head_and_tail() -> None:
    output = "HEAD" + "x" * 10_000 + "TAIL"
    cut = truncate_middle(output, 100)
    assert cut.startswith("HEAD")
    assert cut.endswith("TAIL")
    assert "tokens truncated" in cut
    assert approx_tokens(cut) < 120
    assert truncate_middle("short", 100) == "short"


def test_specs_offer_codex_shell_schema_on_both_wires() -> None:
    patching = model_family("gpt-5.5")
    responses = {spec["name"]: spec for spec in tool_specs(WireApi.RESPONSES, patching)}
    properties = responses["exec_command"]["parameters"]["properties"]
    assert properties["sandbox_permissions"]["enum"] == [
        "use_default", "with_additional_permissions", "require_escalated"]
    bounds = properties["additional_permissions"]["properties"]
    assert sorted(bounds["file_system"]["properties"]) == ["read", "write"]
    assert bounds["network"]["properties"]["enabled"]["type"] == "boolean"
    assert "justification" in properties
    assert responses["apply_patch"]["type"] == "custom"
    chat = [spec["function"] for spec in tool_specs(WireApi.CHAT, patching)]
    assert [spec["name"] for spec in chat] == [
        "exec_command", "write_stdin", "request_user_input", "apply_patch", "view_image"]
    # No freeform tools on Chat Completions: apply_patch takes its patch as ``input``.
    assert chat[3]["parameters"]["required"] == ["input"]


@pytest.mark.asyncio
async def test_run_command_collects_both_streams(tmp_path: Path) -> None:
    result = await within(run_command(
        shell_argv("echo out; echo err >&2; exit 3", login=False),
        cwd=tmp_path, env=dict(os.environ), spawner=spawn_unconfined,
    ), "the command")
    assert result.exit_code == 3
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    assert sorted(result.aggregated_output.splitlines()) == ["err", "out"]


@pytest.mark.asyncio
async def test_cancelling_kills_the_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "survived"
    task = asyncio.create_task(run_command(
        shell_argv(f"(sleep 2; touch {marker}) & sleep 30", login=False),
        cwd=tmp_path, env=dict(os.environ), spawner=spawn_unconfined,
    ))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await within(task, "the cancelled command to end")
    await asyncio.sleep(2.5)
    assert not marker.exists()
