"""The client requests of Codex 0.169's recorded app-server sessions, sent to
``llmx app-server`` with the same scripted model: the same notifications and server
requests come back, ids, times and streaming granularity aside.

Codex's transcripts are in ``tests/fixtures/codex-rich/appserver-jsonrpc/``; its model
scripts in ``mock-scripts/``. What the comparison sets aside, and why:

- ``thread/started``, which belongs to ``thread/start`` (Codex 0.169 may send it after
  the client's first ``turn/start`` went out);
- notifications of Codex features llmx does not have: ``remoteControl/status/changed``,
  the model catalogue's ``warning`` (``Model metadata for `mock-model` not found``);
- ``thread/readState/changed`` (a read marker whose place Codex itself varies);
- ``turn/diff/updated`` sent again with an unchanged diff: Codex repeats the turn's diff
  after each model response, llmx sends it when a patch changes it; each new diff is
  compared, text and place;
- the ``reason`` of a patch approval request, which llmx words itself;
- the order of a declined command's ``item/completed`` and the
  ``thread/status/changed`` that ends its ``waitingOnApproval``: Codex sends them from two
  tasks and itself varies it (the item first in ``escalation_ws_onrequest_decline``, the
  status first in ``readonly_denied_then_escalate_decline``);
- how the answer was cut into ``item/agentMessage/delta`` pieces: consecutive deltas
  are joined, their text compared;
- ``item/commandExecution/outputDelta``: these recordings of 0.169 carry none, even for
  commands that printed; later Codex releases (0.171) send a command's output this way
  before its ``item/completed``, as llmx does (tests/app_server/test_live_output.py);
- the ``item/completed`` of a command an interrupt stopped (exit code -1): llmx kills
  the command at the interrupt and completes its item then, before the turn's end;
  Codex 0.169 leaves the process running in the background and completes the item when
  it ends, here after the client had gone (``interrupt_mid_command``: only its rollout
  has it). The item itself is compared with Codex's in
  tests/runtime/test_interrupted_commands.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from e2e.exec_harness import needs_sandbox
from support.app_server_client import AppServer, make_home
from support.app_server_schema import FIXTURES
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import WAIT_SECONDS

RICH = FIXTURES / "codex-rich"
CODEX_ONLY = {"remoteControl/status/changed", "warning", "deprecationNotice"}
# Answers ``thread/start``, before the compared part; Codex sometimes sends it after the
# client's first ``turn/start`` already went out.
BEFORE = {"thread/started"}
# The read marker, whose place Codex varies (before the ``turn/interrupt`` answer, absent
# after a ``cancel``).
NOT_COMPARED = {"thread/readState/changed"}
# A running command's output: absent from the 0.169 recordings (see the docstring).
LIVE_OUTPUT = {"item/commandExecution/outputDelta"}


def transcript(name: str) -> list[dict[str, Any]]:
    path = RICH / "appserver-jsonrpc" / f"{name}.jsonrpc.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def shape(messages: list[dict[str, Any]]) -> list[Any]:
    """What is compared: each message's kind and the facts that matter, in order."""
    out: list[Any] = []
    last_diff = None
    for message in messages:
        method = message.get("method")
        if method is None:
            result = message.get("result", message.get("error"))
            out.append(("response", sorted(result) if isinstance(result, dict) else result))
            continue
        params = message.get("params", {})
        if method in CODEX_ONLY or method in BEFORE or method in NOT_COMPARED \
                or method in LIVE_OUTPUT:
            continue
        if method == "turn/diff/updated":
            if params["diff"] != last_diff:
                last_diff = params["diff"]
                out.append((method, last_diff))
            continue
        if method == "item/agentMessage/delta":
            if out and out[-1][0] == method:
                out[-1] = (method, out[-1][1] + params["delta"])
            else:
                out.append((method, params["delta"]))
        elif method in ("item/started", "item/completed"):
            item = params["item"]
            if (method == "item/completed" and item["type"] == "commandExecution"
                    and item.get("exitCode") == -1):
                continue  # stopped by an interrupt: its place differs (see the docstring)
            out.append((method, item["type"], item.get("status"), item.get("text"),
                        item.get("command")))
        elif method in ("turn/started", "turn/completed"):
            turn = params["turn"]
            out.append((method, turn["status"], turn["itemsView"],
                        [i.get("text") for i in turn["items"]]))
        elif method == "thread/tokenUsage/updated":
            usage = params["tokenUsage"]
            out.append((method, usage["total"]["totalTokens"], usage["last"]["totalTokens"]))
        elif method == "thread/status/changed":
            out.append((method, params["status"]))
        elif "id" in message:
            # A patch request's reason is llmx's own (which targets the sandbox refuses).
            reason = params.get("reason") if "command" in params else None
            out.append(("request", method, params.get("command"), reason))
        else:
            out.append((method,))
    return _settled_approval_order(out)


def _settled_approval_order(out: list[Any]) -> list[Any]:
    """A declined command's completion and the status change that ends the approval
    wait, in one order (the status first), whichever Codex or llmx sent first."""
    for index in range(len(out) - 1):
        first, second = out[index], out[index + 1]
        if (first[0] == "item/completed" and first[1] == "commandExecution"
                and first[2] == "declined" and second[0] == "thread/status/changed"
                and second[1].get("activeFlags") == []):
            out[index], out[index + 1] = second, first
    return out


def replay(name: str, tmp_path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Send the transcript's client messages to llmx; (what Codex sent, what llmx sent),
    from the first ``turn/start`` on."""
    recorded = transcript(name)
    script = Script.from_json(json.loads((RICH / "mock-scripts" / f"{name}.json").read_text()))
    codex_sent: list[dict[str, Any]] = []
    llmx_sent: list[dict[str, Any]] = []
    with ModelServer(script) as model:
        home = make_home(tmp_path, model.base_url)
        workspace = tmp_path / "project"
        workspace.mkdir()
        subprocess.run(["git", "init", "-q", str(workspace)], check=True, timeout=WAIT_SECONDS)
        # The commands run as ``bash -lc``: a HOME of their own keeps the login shell from
        # reading this machine's profile (which can take longer than the 150 ms a denied
        # start is told within).
        user_home = tmp_path / "user"
        user_home.mkdir()
        with AppServer(home, workspace,
                       env={"LLMX_TEST_MODEL_KEY": "k", "HOME": str(user_home)}) as server:
            server.initialize()
            # Codex's thread and turn ids -> llmx's, learnt from the two answers to each
            # request (a fork's thread, a turn a later request names).
            ids: dict[str, str] = {}
            turns_started = False
            pending: dict[Any, str] = {}  # request id -> method, awaiting their answers
            for entry in recorded:
                message = entry["msg"]
                if entry["dir"] == "server->client":
                    if turns_started:
                        codex_sent.append(message)
                    learn_ids(ids, message, server.received)
                    continue
                method = message.get("method")
                if method in ("initialize", "initialized"):
                    continue
                if method == "thread/start":
                    params = {**message["params"], "cwd": str(workspace)}
                    server.send({"id": message["id"], "method": method, "params": params})
                    while server.next_message().get("id") != message["id"]:
                        pass
                    continue
                if method == "turn/start":
                    turns_started = True
                if "method" not in message:
                    # The client's answer to a server request: to the matching one of ours.
                    ours = next(i for i, m in pending.items() if m.startswith("item/"))
                    pending.pop(ours)
                    server.send({"id": ours, "result": message["result"]})
                    read_until(server, llmx_sent, pending, what_follows(recorded, entry))
                    continue
                text = json.dumps(message["params"])
                for codex_id, llmx_id in ids.items():
                    text = text.replace(codex_id, llmx_id)
                params = json.loads(text)
                if method == "turn/interrupt":
                    params["turnId"] = last_turn(llmx_sent)
                server.send({"id": message["id"], "method": method, "params": params})
                server.requests[message["id"]] = method
                # Read until llmx has sent what Codex had sent when the client went on.
                read_until(server, llmx_sent, pending, what_follows(recorded, entry))
    return codex_sent, llmx_sent


def learn_ids(ids: dict[str, str], codex_answer: dict[str, Any],
              llmx_sent: list[dict[str, Any]]) -> None:
    """Map the thread and turn ids of Codex's answer to those of llmx's answer to the
    same request (already read: each request is read up to what Codex had sent)."""
    result = codex_answer.get("result")
    if not isinstance(result, dict) or "id" not in codex_answer:
        return
    ours = next((m.get("result") for m in llmx_sent if m.get("id") == codex_answer["id"]
                 and "method" not in m), None)
    if not isinstance(ours, dict):
        return
    for key in ("thread", "turn"):
        if isinstance(result.get(key), dict) and isinstance(ours.get(key), dict):
            ids.setdefault(result[key]["id"], ours[key]["id"])


def what_follows(recorded: list[dict[str, Any]], entry: dict[str, Any]) -> str | None:
    """The kind of the last server message Codex sent before the client's next message
    (what the client waited for); None when Codex sent nothing in between."""
    index = recorded.index(entry)
    last = None
    for later in recorded[index + 1:]:
        if later["dir"] == "client->server":
            break
        last = kind_of(later["msg"])
    return last


def kind_of(message: dict[str, Any]) -> str:
    """A message's method, with the item's type for item notifications."""
    method = str(message.get("method") or "response")
    item = message.get("params", {}).get("item") if "method" in message else None
    return f"{method} {item['type']}" if isinstance(item, dict) else method


def read_until(server: AppServer, sink: list[dict[str, Any]], pending: dict[Any, str],
               wanted: str | None) -> None:
    while wanted is not None:
        message = server.next_message()
        sink.append(message)
        if "method" in message and "id" in message:
            pending[message["id"]] = message["method"]
        if kind_of(message) == wanted:
            return


def last_turn(sent: list[dict[str, Any]]) -> str:
    return next(m["params"]["turn"]["id"] for m in reversed(sent)
                if m.get("method") == "turn/started")


@needs_sandbox
@pytest.mark.parametrize("name", [
    "approval_untrusted_accept",
    "approval_untrusted_decline",
    "approval_untrusted_cancel",
    "approval_untrusted_acceptForSession",
    "patch_approval_readonly_accept",
    "patch_approval_readonly_decline",
    "interrupt_mid_command",
    "escalation_ws_onrequest_decline",
    "fork_and_revert",
    "readonly_denied_then_escalate_accept",
    "readonly_denied_then_escalate_decline",
])
def test_same_requests_give_what_codex_sent(name: str, tmp_path: Path) -> None:
    codex_sent, llmx_sent = replay(name, tmp_path)
    assert shape(llmx_sent) == shape(codex_sent)
