"""``llmx app-server`` exports its threads to a real OTLP receiver on loopback, as exec
does: each thread's spans and log records equal ``llmx otel export`` of its rollout, and
the metrics of a turn arrive when the turn ends, while the server still runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.app_server_client import AppServer, drive_turn, make_home
from support.model_server import scripted
from support.waits import WAIT_SECONDS, wait_until

try:
    from support.otlp_receiver import OtlpReceiver
except ImportError as missing:  # pragma: no cover - depends on the environment
    pytest.skip(f"the OTLP receiver needs opentelemetry-proto and grpcio ({missing})",
                allow_module_level=True)

KEY = {"LLMX_TEST_MODEL_KEY": "k"}
SCRIPT = {"turns": [], "fallback": [{"type": "message", "text": "noted"}]}


def _otel(endpoint: str) -> str:
    exporter = f'{{ otlp-http = {{ endpoint = "{endpoint}" }} }}'
    return (f'[otel]\nenvironment = "test"\nexporter = {exporter}\n'
            f"metrics_exporter = {exporter}\n")


def _rollout(home: Path, thread_id: str) -> Path:
    [path] = (home / "sessions").rglob(f"rollout-*-{thread_id}.jsonl")
    return path


def _of(records: list[dict[str, Any]], trace: str) -> list[dict[str, Any]]:
    return [record for record in records if record["traceId"] == trace]


def _trace(thread_id: str) -> str:
    import base64

    return base64.b64encode(bytes.fromhex(thread_id.replace("-", ""))).decode()


def test_each_thread_is_exported_live_and_equals_its_backfill(tmp_path: Path) -> None:
    with OtlpReceiver() as receiver, scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url, _otel(receiver.http_url))
        work = tmp_path / "project"
        work.mkdir()
        # The SDK's own interval is an hour: what arrives before the end comes from the
        # export at each turn's end.
        hour = {**KEY, "OTEL_METRIC_EXPORT_INTERVAL": "3600000"}
        with AppServer(home, work, env=hour) as server:
            server.initialize()
            first = server.start_thread(cwd=str(work))
            drive_turn(server, first, "first thread, first turn")
            # The turn has ended and the server goes on: its spans, records and metrics
            # are at the receiver already.
            wait_until(lambda: any(span["name"] == "llmx.turn" for span in receiver.spans()),
                       "the first turn's span")
            wait_until(lambda: "codex.turn.e2e_duration_ms" in receiver.metric_names(),
                       "the first turn's metrics while the server runs")
            assert server.proc.poll() is None
            second = server.start_thread(cwd=str(work))
            drive_turn(server, second, "second thread")
            drive_turn(server, first, "first thread, second turn")
        assert "otel" not in server.stderr(), server.stderr()
        spans, logs = receiver.spans(), receiver.logs()
        for thread_id in (first, second):
            receiver.clear()
            exported = subprocess.run(
                [sys.executable, "-m", "llmx", "otel", "export",
                 str(_rollout(home, thread_id))],
                env={"LLMX_HOME": str(home), "PATH": "/usr/bin:/bin"}, capture_output=True,
                text=True, timeout=WAIT_SECONDS, check=False)
            assert exported.returncode == 0, exported.stderr
            trace = _trace(thread_id)
            assert _of(spans, trace) == receiver.spans()
            assert _of(logs, trace) == receiver.logs()
    first_spans = [span["name"] for span in _of(spans, _trace(first))]
    assert sorted(first_spans) == sorted(["llmx.thread", "llmx.turn", "llmx.turn",
                                          "llmx.model_request", "llmx.model_request"])
    # Each thread's resource is its originator, the client that started it.
    assert {span["service"] for span in spans} == {"llmx_tests"}
    prompts = [record for record in logs
               if record["attributes"]["event.name"] == "codex.user_prompt"]
    assert len(prompts) == 3
    meta = json.loads(_rollout(home, first).read_text().splitlines()[0])["payload"]
    assert meta["originator"] == "llmx_tests"


def test_a_bad_otel_table_is_one_line_and_the_thread_runs(tmp_path: Path) -> None:
    with scripted(SCRIPT) as model:
        home = make_home(tmp_path, model.base_url,
                         '[otel]\nexporter = { otlp-carrier = { endpoint = "x" } }\n')
        work = tmp_path / "project"
        work.mkdir()
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            thread_id = server.start_thread(cwd=str(work))
            seen = drive_turn(server, thread_id, "hello")
    assert any(m.get("method") == "turn/completed" for m in seen)
    [line] = [line for line in server.stderr().splitlines() if "otel" in line]
    assert line.startswith("llmx app-server: [otel] exporter = {otlp-carrier = ...}: "
                           "unknown exporter 'otlp-carrier' — use \"none\""), line


def test_each_thread_goes_where_its_own_otel_table_says(tmp_path: Path) -> None:
    """Threads of one server with different ``[otel]`` tables (the per-thread ``config``)
    are each exported by their own table: not all by the first thread's."""
    with (OtlpReceiver() as home_receiver, OtlpReceiver() as other_receiver,
          scripted(SCRIPT) as model):
        home = make_home(tmp_path, model.base_url, _otel(home_receiver.http_url))
        work = tmp_path / "project"
        work.mkdir()
        with AppServer(home, work, env=KEY) as server:
            server.initialize()
            first = server.start_thread(cwd=str(work))
            drive_turn(server, first, "to the home's receiver")
            elsewhere = server.start_thread(cwd=str(work), config={
                "otel.exporter": {"otlp-http": {"endpoint": other_receiver.http_url}},
                "otel.metrics_exporter": "none"})
            drive_turn(server, elsewhere, "to the other receiver")
            nowhere = server.start_thread(cwd=str(work), config={
                "otel.exporter": "none", "otel.metrics_exporter": "none"})
            drive_turn(server, nowhere, "not exported")
            again = server.start_thread(cwd=str(work))
            drive_turn(server, again, "to the home's receiver again")
        assert "otel" not in server.stderr(), server.stderr()
        at_home = {span["traceId"] for span in home_receiver.spans()}
        at_other = {span["traceId"] for span in other_receiver.spans()}
        other_logs = {record["traceId"] for record in other_receiver.logs()}
        other_metrics = other_receiver.metric_names()
    assert at_home == {_trace(first), _trace(again)}
    assert at_other == {_trace(elsewhere)} == other_logs
    assert not other_metrics  # its table sends no metrics
