"""The exporting process of a live run (``llmx.cli.otel_process``), driven as a run drives
it: a real child process, a real OTLP receiver on loopback, the lines of a rollout the
real Codex CLI wrote. It runs as a batch job, imports only the exporters configured,
sends a turn's records while the export still runs, says what arrived without the run
waiting for its exit, and a child that dies costs the run its records, not its end."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support import CODEX_RICH_FIXTURES
from support.waits import WAIT_SECONDS, wait_until

try:
    from support.otlp_receiver import OtlpReceiver
except ImportError as missing:  # pragma: no cover - depends on the environment
    pytest.skip(f"the OTLP receiver needs opentelemetry-proto and grpcio ({missing})",
                allow_module_level=True)

from llmx.cli.otel_process import ProcessExport, _serve, settings_json
from llmx.cli.otel_settings import ExporterSpec, OtelSettings

ROLLOUT = CODEX_RICH_FIXTURES / "rollouts" / "approval_untrusted_accept.rollout.jsonl"
SCHED_BATCH = 3  # Linux's policy number, as /proc/PID/task/TID/stat field 41 shows it


def _settings(url: str) -> OtelSettings:
    spec = ExporterSpec("otlp-http", url, "binary", {}, None)
    return OtelSettings("test", spec, spec, spec, False, False, None)


def _lines() -> list[bytes]:
    return ROLLOUT.read_bytes().splitlines(keepends=True)


def _children() -> list[int]:
    """This process's exporting children, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and b"llmx.cli.otel_process" in command:
            found.append(int(entry.name))
    return found


def _state(pid: int) -> str | None:
    """The process's state letter (Z for a zombie), or None once it is reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _policies(pid: int) -> set[int]:
    policies = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with_name = (task / "stat").read_text()
        policies.add(int(with_name.rsplit(")", 1)[1].split()[38]))
    return policies


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="SCHED_BATCH and /proc are Linux's")
def test_the_exporting_process_is_a_batch_job_and_is_reaped_after_its_counts() -> None:
    with OtlpReceiver() as receiver:
        export = ProcessExport(_settings(receiver.http_url), service_name="llmx_exec",
                               version="0")
        export.stream("k", "llmx_exec")
        for line in _lines():
            export.offer(line, key="k")
        wait_until(lambda: _children(), "the exporting process")
        [child] = _children()
        # Its worker thread (the one that imports the SDK and exports) exists once a span
        # arrived; every thread of it inherited the policy.
        wait_until(lambda: receiver.spans(), "the first spans")
        assert _policies(child) == {SCHED_BATCH}
        export.end("k")
        summary = export.close()
        assert (summary.failed, summary.dropped) == (0, 0)
        assert summary.sent == len(receiver.spans()) + len(receiver.logs())
        # The run took the counts without waiting for the exit; the child is reaped
        # beside it, not left a zombie.
        wait_until(lambda: _state(child) is None, "the exporting process to be reaped")


def test_a_turns_records_arrive_while_the_export_runs() -> None:
    """The turn's last line is handed over at once, and its records go out a quarter
    second after it: nothing waits for the end of the export."""
    with OtlpReceiver() as receiver:
        export = ProcessExport(_settings(receiver.http_url), service_name="llmx_exec",
                               version="0")
        export.stream("k", "llmx_exec")
        for line in _lines():
            ends_turn = json.loads(line)["payload"].get("type") == "task_complete"
            export.offer(line, key="k", at_once=ends_turn)
        wait_until(lambda: any(s["name"] == "llmx.turn" for s in receiver.spans()),
                   "the turn's span before the export is closed")
        wait_until(lambda: "codex.turn.e2e_duration_ms" in receiver.metric_names(),
                   "the turn's metrics before the export is closed")
        assert not any(s["name"] == "llmx.thread" for s in receiver.spans())
        export.end("k")
        assert export.close().problem() is None
        assert any(s["name"] == "llmx.thread" for s in receiver.spans())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_a_child_that_dies_costs_its_records_not_the_runs_end() -> None:
    with OtlpReceiver() as receiver:
        export = ProcessExport(_settings(receiver.http_url), service_name="llmx_exec",
                               version="0")
        export.stream("k", "llmx_exec")
        lines = _lines()
        export.offer(lines[0], key="k")
        wait_until(lambda: _children(), "the exporting process")
        [child] = _children()
        os.kill(child, signal.SIGKILL)
        for line in lines[1:]:
            export.offer(line, key="k")
        export.end("k")
        summary = export.close()
    assert summary.failed >= 1
    assert summary.problem() is not None
    assert summary.problem().startswith("otel: ")


def test_the_child_says_when_the_sdk_is_imported_then_what_arrived() -> None:
    """``_serve`` is the child's loop: its ``on_ready`` (the collector back on) is called
    once, when the exporters are built, and its line of counts says what arrived."""
    with OtlpReceiver() as receiver:
        header = json.dumps({"settings": settings_json(_settings(receiver.http_url)),
                             "service": "llmx_exec", "version": "0"}).encode()
        frames = [header + b"\n", b"S\tk\tllmx_exec\n",
                  *(b"L\tk\t" + line for line in _lines()), b"E\tk\n"]
        ready: list[int] = []
        out = io.StringIO()
        _serve(io.BytesIO(b"".join(frames)), out,
               on_ready=lambda: ready.append(len(receiver.spans())))
        counts = json.loads(out.getvalue())
        assert ready == [0]
        assert (counts["failed"], counts["dropped"]) == (0, 0)
        assert counts["sent"] == len(receiver.spans()) + len(receiver.logs())
        assert {s["name"] for s in receiver.spans()} >= {"llmx.thread", "llmx.turn"}


def _child_imports(settings: OtelSettings) -> set[str]:
    """What the exporting process imports for ``settings``, fed a rollout to the end."""
    header = json.dumps({"settings": settings_json(settings), "service": "llmx_exec",
                         "version": "0"}).encode()
    frames = [header + b"\n", b"S\tk\tllmx_exec\n",
              *(b"L\tk\t" + line for line in _lines()), b"E\tk\n"]
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "llmx.cli.otel_process"],
                          input=b"".join(frames), capture_output=True, timeout=WAIT_SECONDS,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["failed"] == 0
    return {line.rsplit("|", 1)[1].strip() for line in done.stderr.decode().splitlines()
            if line.startswith("import time:") and "|" in line}


def test_the_child_imports_only_the_exporters_configured() -> None:
    """Each signal's exporter is imported when that signal is configured, not otherwise
    (the SDK's own modules may bring more: its gRPC exporters import the logs and metrics
    SDK themselves)."""
    with OtlpReceiver() as receiver:
        http_spec = ExporterSpec("otlp-http", receiver.http_url, "binary", {}, None)
        grpc_spec = ExporterSpec("otlp-grpc", receiver.grpc_url, "binary", {}, None)
        http_all = _child_imports(_settings(receiver.http_url))
        http_traces = _child_imports(OtelSettings("test", None, http_spec, None, False,
                                                  False, None))
        grpc_traces = _child_imports(OtelSettings("test", None, grpc_spec, None, False,
                                                  False, None))
    exporters = "opentelemetry.exporter.otlp.proto."
    assert {f"{exporters}http.trace_exporter", f"{exporters}http._log_exporter",
            f"{exporters}http.metric_exporter", "opentelemetry.sdk.metrics"} <= http_all
    assert not {name for name in http_all if name == "grpc" or ".grpc" in name}
    assert f"{exporters}http.trace_exporter" in http_traces
    assert not {name for name in http_traces
                if name.startswith(("opentelemetry.sdk.metrics", "opentelemetry.sdk._logs",
                                    f"{exporters}http._log_exporter",
                                    f"{exporters}http.metric_exporter", "grpc"))}
    assert f"{exporters}grpc.trace_exporter" in grpc_traces
    assert not {name for name in grpc_traces
                if name.startswith(("requests", f"{exporters}http",
                                    f"{exporters}grpc._log_exporter",
                                    f"{exporters}grpc.metric_exporter"))}
