"""A command an interrupt kills, on a real rollout file through the thread door: its item
completes (failed, exit code -1, the output it printed and the time it ran), as Codex
0.169 completes one, before the turn records its abort; and a command the user typed
(``!cmd``) tells the model how long it ran and what it printed.

Everything is real: the loopback model server, the processes, the files."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from runtime.thread_harness import git_workspace, write_config
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import within

from llmx.events.event_msgs import ExecApprovalRequest
from llmx.events.lines import RolloutLine
from llmx.events.ops import ExecApproval, Interrupt, RunUserShellCommand
from llmx.events.primitives import TextInput
from llmx.runtime import AgentThread, ThreadManager, ThreadOptions

KEY_ENV = "LLMX_INTERRUPT_TEST_KEY"
# Printed at once; the command then sleeps until it is killed.
SLOW = "echo started; sleep 30; echo finished"
CODEX_FIXTURE = (Path(__file__).parent.parent / "fixtures" / "codex-rich" / "rollouts"
                 / "interrupt_mid_command.rollout.jsonl")


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _kinds(path: Path) -> list[str]:
    return [str(line["payload"].get("type", line["type"])) for line in _lines(path)]


def _commands(path: Path, kind: str) -> list[dict[str, Any]]:
    return [line["payload"] for line in _lines(path)
            if line["type"] == "event_msg" and line["payload"]["type"] == kind
            and line["payload"]["item"]["type"] == "CommandExecution"]


def _seconds(duration: dict[str, int]) -> float:
    return duration["secs"] + duration["nanos"] / 1e9


def _printed(line: RolloutLine, text: str) -> bool:
    """``line`` is a piece of a command's output holding ``text``."""
    if line.payload_type != "exec_command_output_delta":
        return False
    payload = json.loads(line.raw)["payload"]
    return text in base64.b64decode(payload["chunk"]).decode()


async def _interrupt_once_printed(thread: AgentThread, *, hold: float) -> float:
    """Interrupt ``hold`` seconds after the running command printed ``started``; wait
    for the abort. The monotonic time the last command's item began."""
    began = 0.0
    async for line in thread.subscribe():
        if line.payload_type == "item_started":
            began = time.monotonic()
        if _printed(line, "started"):
            await asyncio.sleep(hold)
            await thread.submit(Interrupt())
        if line.payload_type == "turn_aborted":
            break
    return began


@pytest.mark.asyncio
async def test_an_interrupted_command_completes_failed_with_its_output_and_time(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    # One round runs a quick command (a normal end, for comparison), the next a slow one.
    script = {"turns": [[{"type": "shell", "command": "echo quick"}],
                        [{"type": "shell", "command": SLOW}]],
              "fallback": [{"type": "message", "text": "never sent"}]}
    with ModelServer(Script.from_json(script)) as server:
        write_config(home, server, KEY_ENV)
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(ThreadOptions(cwd=git_workspace(tmp_path),
                                                      sandbox_mode="danger-full-access"))
            watch = asyncio.create_task(_interrupt_once_printed(thread, hold=1.0))
            await thread.submit(thread.user_turn([TextInput(text="run the slow job")]))
            began = await within(watch, "the interrupted turn")
            stopped = time.monotonic()
            await within(thread.close(), "the thread to close")
        assert len(server.model_requests()) == 2
    path = thread.rollout_path
    assert path is not None
    started = _commands(path, "item_started")
    quick, slow = _commands(path, "item_completed")
    assert [c["item"]["id"] for c in started] == [quick["item"]["id"], slow["item"]["id"]]
    item = slow["item"]
    # As Codex writes it (tests/fixtures/codex-rich: interrupt_mid_command).
    assert (item["status"], item["exit_code"]) == ("failed", -1)
    # (A login shell may print its own noise before it, as under Codex.)
    assert item["aggregated_output"].endswith("started\n")
    # The time it ran: from its start to its kill (about the second it was held).
    assert 1.0 <= _seconds(item["duration"]) <= stopped - began + 0.5
    assert slow["completed_at_ms"] - slow["started_at_ms"] >= 1000
    # Field for field what a command that ended by itself has, under the same turn.
    assert item.keys() == quick["item"].keys()
    assert slow["turn_id"] == started[1]["turn_id"]
    codex = [json.loads(line)["payload"] for line in CODEX_FIXTURE.read_text().splitlines()]
    [codex_item] = [p["item"] for p in codex if p.get("type") == "item_completed"
                    and p["item"]["type"] == "CommandExecution"]
    # Codex's item carries the process id of its unified exec besides: llmx has none.
    assert set(item) == set(codex_item) - {"process_id"}
    # Its end, then the call's output, then the abort: nothing of it comes later.
    lines = _lines(path)
    end_at = next(i for i, line in enumerate(lines)
                  if line["payload"].get("type") == "item_completed"
                  and line["payload"]["item"]["id"] == item["id"])
    output_at = next(i for i, line in enumerate(lines)
                     if line["payload"].get("type") == "function_call_output"
                     and line["payload"]["call_id"] == item["id"])
    assert end_at < output_at < _kinds(path).index("turn_aborted")
    assert lines[output_at]["payload"]["output"].endswith("aborted by user")


@pytest.mark.asyncio
async def test_a_second_interrupt_does_not_cut_the_first_short(tmp_path: Path) -> None:
    """Esc pressed twice (or Ctrl-C twice in exec): both are on record, the turn is
    stopped once, and the killed command's end and the abort are all recorded."""
    home = tmp_path / "home"
    script = {"turns": [[{"type": "shell", "command": SLOW}]],
              "fallback": [{"type": "message", "text": "never sent"}]}
    with ModelServer(Script.from_json(script)) as server:
        write_config(home, server, KEY_ENV)
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(ThreadOptions(cwd=git_workspace(tmp_path),
                                                      sandbox_mode="danger-full-access"))
            events = thread.subscribe()
            await thread.submit(thread.user_turn([TextInput(text="run the slow job")]))
            async for line in events:
                if _printed(line, "started"):
                    await asyncio.gather(thread.submit(Interrupt()), thread.submit(Interrupt()))
                if line.payload_type == "turn_aborted":
                    break
            await within(thread.close(), "the thread to close")
            await events.aclose()
    path = thread.rollout_path
    assert path is not None
    ops = [line["payload"]["op"]["type"] for line in _lines(path)
           if line["type"] == "submission"]
    assert ops.count("interrupt") == 2
    [done] = _commands(path, "item_completed")
    assert (done["item"]["status"], done["item"]["exit_code"]) == ("failed", -1)
    assert done["item"]["aggregated_output"].endswith("started\n")
    kinds = _kinds(path)
    assert kinds.count("turn_aborted") == 1
    assert kinds.index("item_completed", kinds.index("item_started")) < kinds.index(
        "function_call_output", kinds.index("item_started")) < kinds.index("turn_aborted")


@pytest.mark.asyncio
async def test_an_abort_at_one_question_stops_the_command_running_beside_it(
    tmp_path: Path,
) -> None:
    """Two calls of one response: the first approved and running, Esc (abort) at the
    second's question ends the turn; the first is killed and its end recorded, as an
    interrupt would."""
    home = tmp_path / "home"
    marker = tmp_path / "finished.txt"
    script = {"turns": [[{"type": "shell", "command": f"echo started; sleep 2; touch {marker}"},
                         {"type": "shell", "command": "touch second.txt"}]],
              "fallback": [{"type": "message", "text": "never sent"}]}
    with ModelServer(Script.from_json(script)) as server:
        write_config(home, server, KEY_ENV)
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(ThreadOptions(
                cwd=git_workspace(tmp_path), sandbox_mode="danger-full-access",
                approval_policy="untrusted"))
            events = thread.subscribe()
            await thread.submit(thread.user_turn([TextInput(text="run both")]))
            slow = other = ""
            printed = answered = False
            async for line in events:
                request = thread.approval_request(line)
                if isinstance(request, ExecApprovalRequest) and "sleep" in request.command[-1]:
                    slow = request.call_id
                    await thread.submit(ExecApproval(id=slow, decision="approved"))
                elif isinstance(request, ExecApprovalRequest):
                    other = request.call_id
                printed = printed or _printed(line, "started")
                if printed and other and not answered:
                    # The first runs; the second waits for its answer: stop the turn.
                    await thread.submit(ExecApproval(id=other, decision="abort"))
                    answered = True
                if line.payload_type == "turn_aborted":
                    break
            # Killed with the turn: it does not run on after it, nor finish later.
            await asyncio.sleep(2.5)
            assert not marker.exists()
            await within(thread.close(), "the thread to close")
            await events.aclose()
    path = thread.rollout_path
    assert path is not None
    [done] = _commands(path, "item_completed")
    assert done["item"]["id"] == slow
    assert (done["item"]["status"], done["item"]["exit_code"]) == ("failed", -1)
    assert done["item"]["aggregated_output"].endswith("started\n")
    kinds = _kinds(path)
    assert kinds.index("item_completed", kinds.index("item_started")) < kinds.index(
        "turn_aborted")


@pytest.mark.asyncio
async def test_an_interrupted_user_command_tells_the_model_its_time_and_output(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    script = {"turns": [], "fallback": [{"type": "message", "text": "Seen it."}]}
    with ModelServer(Script.from_json(script)) as server:
        write_config(home, server, KEY_ENV)
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(ThreadOptions(cwd=git_workspace(tmp_path),
                                                      sandbox_mode="danger-full-access"))
            watch = asyncio.create_task(_interrupt_once_printed(thread, hold=1.0))
            await thread.submit(RunUserShellCommand(command=SLOW))
            await within(watch, "the interrupted command")
            await thread.submit(thread.user_turn([TextInput(text="what did I run")]))
            await within(thread.close(), "the thread to close")
        [request] = server.model_requests()
    path = thread.rollout_path
    assert path is not None
    [done] = _commands(path, "item_completed")
    item = done["item"]
    assert (item["source"], item["status"], item["exit_code"]) == ("user_shell", "failed", -1)
    # What it printed, then Codex's words for the interrupt.
    output = item["aggregated_output"]
    assert output.endswith("started\ncommand aborted by user")
    seconds = _seconds(item["duration"])
    assert seconds >= 1.0
    told = [line["payload"]["content"][0]["text"] for line in _lines(path)
            if line["payload"].get("type") == "message"
            and "<user_shell_command>" in line["payload"]["content"][0]["text"]]
    assert told == [
        f"<user_shell_command>\n<command>\n{SLOW}\n</command>\n<result>\nExit code: -1\n"
        f"Duration: {seconds:.4f} seconds\nOutput:\n{output}\n"
        "</result>\n</user_shell_command>"
    ]
    # The next turn's request carries the same.
    texts = [part.get("text") for entry in request.body["input"]
             if entry.get("type") == "message" for part in entry["content"]]
    assert told[0] in texts
    kinds = _kinds(path)
    assert kinds.index("item_completed", kinds.index("item_started")) < kinds.index(
        "turn_aborted")


@pytest.mark.asyncio
async def test_a_user_command_stopped_at_its_question_never_ran(tmp_path: Path) -> None:
    """Interrupted before it started (at its approval question): no item, and the model is
    told it ran for no time at all."""
    home = tmp_path / "home"
    script = {"turns": [], "fallback": [{"type": "message", "text": "Seen it."}]}
    with ModelServer(Script.from_json(script)) as server:
        write_config(home, server, KEY_ENV)
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(ThreadOptions(
                cwd=git_workspace(tmp_path), sandbox_mode="danger-full-access",
                approval_policy="untrusted"))
            events = thread.subscribe()
            await thread.submit(RunUserShellCommand(command="touch asked.txt"))
            async for line in events:
                if thread.approval_request(line) is not None:
                    await thread.submit(Interrupt())
                if line.payload_type == "turn_aborted":
                    break
            await within(thread.close(), "the thread to close")
            await events.aclose()
    path = thread.rollout_path
    assert path is not None
    assert _commands(path, "item_started") == []
    assert _commands(path, "item_completed") == []
    told = [line["payload"]["content"][0]["text"] for line in _lines(path)
            if line["payload"].get("type") == "message"]
    assert told[-1].endswith("Exit code: -1\nDuration: 0.0000 seconds\nOutput:\n"
                             "command aborted by user\n</result>\n</user_shell_command>")
