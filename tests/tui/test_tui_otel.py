"""The interactive session exports its threads to a real OTLP receiver on loopback: the
real ``llmx`` in tmux, two threads (the second after ``/new``); each turn's spans, records
and metrics arrive when it ends, a thread's span when it is left, and what arrived for each
thread equals ``llmx otel export`` of its rollout."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from e2e.exec_harness import make_env
from support.model_scripts import Script
from support.model_server import ModelServer
from support.tmux import Tmux, needs_tmux
from support.waits import WAIT_SECONDS, wait_until
from tui.test_tui_terminal import terminal_env

from llmx.events.reader import RolloutReader

try:
    from support.otlp_receiver import OtlpReceiver
except ImportError as missing:  # pragma: no cover - depends on the environment
    pytest.skip(f"the OTLP receiver needs opentelemetry-proto and grpcio ({missing})",
                allow_module_level=True)

pytestmark = needs_tmux

SCRIPT = {"turns": [], "fallback": [{"type": "message", "text": "Answered."}]}


def _trace(path: Path) -> str:
    thread_id = json.loads(path.read_text().splitlines()[0])["payload"]["id"]
    return base64.b64encode(bytes.fromhex(thread_id.replace("-", ""))).decode()


def _of(records: list[dict[str, Any]], trace: str) -> list[dict[str, Any]]:
    return [record for record in records if record["traceId"] == trace]


def _completed(path: Path) -> int:
    return sum(line.payload_type == "task_complete" for line in RolloutReader(path))


def test_the_tui_exports_every_thread_it_runs(tmp_path: Path) -> None:
    with OtlpReceiver() as receiver, ModelServer(Script.from_json(SCRIPT)) as server:
        exporter = f'{{ otlp-http = {{ endpoint = "{receiver.http_url}" }} }}'
        env = make_env(tmp_path, server.base_url, config_extra=(
            f"[otel]\nexporter = {exporter}\nmetrics_exporter = {exporter}\n"))
        # The SDK's own metrics interval is an hour: metrics that arrive while the session
        # runs were sent at the end of a turn.
        terminal = {**terminal_env(env.home), "OTEL_METRIC_EXPORT_INTERVAL": "3600000"}
        llmx = [sys.executable, "-m", "llmx", "-s", "read-only"]
        with Tmux(llmx, env=terminal, cwd=env.workspace) as term:
            term.expect("mock-model ·")
            term.type("the first thread")
            term.send("Enter")
            term.expect("Answered.")
            wait_until(lambda: any(s["name"] == "llmx.turn" for s in receiver.spans()),
                       "the first turn's span while the session runs")
            wait_until(lambda: "codex.turn.e2e_duration_ms" in receiver.metric_names(),
                       "the first turn's metrics while the session runs")
            [first] = env.rollouts()
            term.type("/new")
            term.send("Enter")
            # Leaving the first thread closes it: its thread span goes out.
            wait_until(lambda: any(s["name"] == "llmx.thread" and s["traceId"] == _trace(first)
                                   for s in receiver.spans()), "the first thread's span")
            term.type("the second thread")
            term.send("Enter")
            wait_until(lambda: len(env.rollouts()) == 2, "the second thread's rollout")
            [second] = [path for path in env.rollouts() if path != first]
            wait_until(lambda: _completed(second) == 1, "the second thread's turn")
            # The turn shows finished: the first ctrl+c asks for the second.
            term.expect("─ Worked for")
            term.send("C-c")
            term.expect("press ctrl+c again to quit")
            term.send("C-c")
            assert term.exit_status() == 0
        spans, logs = receiver.spans(), receiver.logs()
        for path in (first, second):
            receiver.clear()
            exported = subprocess.run(
                [sys.executable, "-m", "llmx", "otel", "export", str(path)],
                env=env.env(), capture_output=True, text=True, timeout=WAIT_SECONDS,
                check=False)
            assert exported.returncode == 0, exported.stderr
            assert _of(spans, _trace(path)) == receiver.spans()
            assert _of(logs, _trace(path)) == receiver.logs()
    assert {span["service"] for span in spans} == {"llmx_tui"}
    for path in (first, second):
        names = sorted(span["name"] for span in _of(spans, _trace(path)))
        assert names == ["llmx.model_request", "llmx.thread", "llmx.turn"], path
