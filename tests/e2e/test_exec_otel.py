"""OpenTelemetry export of real ``llmx exec`` runs into a real OTLP receiver on loopback
(tests/support/otlp_receiver.py: HTTP and gRPC), compared with ``llmx otel export`` of
the same rollout; a receiver that is down; and nothing of it loaded when ``[otel]`` is off.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from e2e.exec_harness import ExecEnv, make_env
from support import expected_install_hint
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import WAIT_SECONDS

try:
    from support.otlp_receiver import OtlpReceiver
except ImportError as missing:  # pragma: no cover - depends on the environment
    pytest.skip(f"the OTLP receiver needs opentelemetry-proto and grpcio ({missing})",
                allow_module_level=True)

SCRIPT = {
    "turns": [[{"type": "shell", "command": "echo x > /dev/null; echo hello-from-the-tool"}],
              [{"type": "message", "text": "all done"}]],
    "fallback": [{"type": "message", "text": "ok"}],
}
PROMPT = "please greet the tool"


def _exporter(kind: str, endpoint: str, protocol: str = "binary") -> str:
    if kind == "otlp-grpc":
        return f'{{ otlp-grpc = {{ endpoint = "{endpoint}" }} }}'
    return f'{{ otlp-http = {{ endpoint = "{endpoint}", protocol = "{protocol}" }} }}'


def _otel(exporter: str, *, extra: str = "") -> str:
    return (f"[otel]\nenvironment = \"test\"\nexporter = {exporter}\n"
            f"metrics_exporter = {exporter}\n{extra}")


def _set_otel(env: ExecEnv, section: str) -> None:
    config = env.home / "config.toml"
    text = config.read_text()
    start = text.index("[otel]")
    end = text.index("[model_providers.mock]")
    config.write_text(text[:start] + section + "\n" + text[end:])


def _export(env: ExecEnv, rollout: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llmx", "otel", "export", str(rollout)],
                          env=env.env(), capture_output=True, text=True, timeout=WAIT_SECONDS,
                          check=False)


def _run(env: ExecEnv) -> subprocess.CompletedProcess[str]:
    done = env.run("-a", "untrusted", "--approval-decision", "approved", PROMPT)
    assert done.returncode == 0, done.stderr
    return done


def _by_event(logs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in logs:
        grouped.setdefault(record["attributes"]["event.name"], []).append(record)
    return grouped


def test_a_live_run_over_http_equals_its_export(tmp_path: Path) -> None:
    with OtlpReceiver() as receiver, ModelServer(Script.from_json(SCRIPT)) as server:
        env = make_env(tmp_path, server.base_url,
                       config_extra=_otel(_exporter("otlp-http", receiver.http_url)))
        live = _run(env)
        assert "otel" not in live.stderr
        [rollout] = env.rollouts()
        thread_id = json.loads(rollout.read_text().splitlines()[0])["payload"]["id"]
        spans, logs = receiver.spans(), receiver.logs()
        metrics = receiver.metric_names()
        receiver.clear()
        exported = _export(env, rollout)
        assert exported.returncode == 0, exported.stderr
        assert exported.stdout.startswith("exported ")
        assert receiver.spans() == spans
        assert receiver.logs() == logs
    trace = base64.b64encode(bytes.fromhex(thread_id.replace("-", ""))).decode()
    assert {span["traceId"] for span in spans} == {trace}
    names = [span["name"] for span in spans]
    assert sorted(names) == sorted(["llmx.thread", "llmx.turn", "llmx.model_request",
                                    "llmx.model_request", "llmx.tool_call"])
    by_name = {span["name"]: span for span in spans}
    assert by_name["llmx.thread"]["parentSpanId"] == ""
    assert by_name["llmx.turn"]["parentSpanId"] == by_name["llmx.thread"]["spanId"]
    assert by_name["llmx.tool_call"]["parentSpanId"] == by_name["llmx.turn"]["spanId"]
    assert by_name["llmx.tool_call"]["attributes"]["tool.kind"] == "command"
    assert by_name["llmx.thread"]["service"] == "llmx_exec"
    events = _by_event(logs)
    assert sorted(events) == sorted(["codex.conversation_starts", "codex.user_prompt",
                                     "codex.api_request", "codex.sse_event",
                                     "codex.tool_decision", "codex.tool_result"])
    [prompt] = events["codex.user_prompt"]
    assert prompt["attributes"]["prompt"] == "[REDACTED]"
    # Codex formats these values: strings, not integers.
    assert prompt["attributes"]["prompt_length"] == str(len(PROMPT))
    [decision] = events["codex.tool_decision"]
    attributes = decision["attributes"]
    assert (attributes["decision"], attributes["source"], attributes["decided_by"]) == (
        "approved", "User", "preset")
    [result] = events["codex.tool_result"]
    assert "hello-from-the-tool" in result["attributes"]["output"]
    assert result["attributes"]["success"] == "true"
    assert result["attributes"]["duration_ms"].isdigit()
    assert result["spanId"] == by_name["llmx.tool_call"]["spanId"]
    assert len(events["codex.api_request"]) == 2
    assert {"codex.turn.token_usage", "codex.tool.call", "codex.turn.e2e_duration_ms"} <= metrics


def test_grpc_live_and_json_export_agree_with_prompts_and_capped_results(
    tmp_path: Path,
) -> None:
    extra = "log_user_prompt = true\ntool_result = { max_bytes = 8 }\n"
    with OtlpReceiver() as receiver, ModelServer(Script.from_json(SCRIPT)) as server:
        env = make_env(tmp_path, server.base_url,
                       config_extra=_otel(_exporter("otlp-grpc", receiver.grpc_url),
                                          extra=extra))
        _run(env)
        [rollout] = env.rollouts()
        spans, logs = receiver.spans(), receiver.logs()
        assert set(receiver.content_types) == {"grpc"}
        receiver.clear()
        _set_otel(env, _otel(_exporter("otlp-http", receiver.http_url, "json"), extra=extra))
        exported = _export(env, rollout)
        assert exported.returncode == 0, exported.stderr
        assert set(receiver.content_types) == {"application/json"}
        assert receiver.spans() == spans
        assert receiver.logs() == logs
    events = _by_event(logs)
    assert events["codex.user_prompt"][0]["attributes"]["prompt"] == PROMPT
    [result] = events["codex.tool_result"]
    assert len(result["attributes"]["output"].encode()) <= 8
    assert result["attributes"]["output_truncated"] is True


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("kind", ["otlp-http", "otlp-grpc"])
def test_a_receiver_that_is_down_costs_the_run_nothing(tmp_path: Path, kind: str) -> None:
    down = f"http://127.0.0.1:{_closed_port()}"
    (tmp_path / "plain").mkdir()
    with ModelServer(Script.from_json(SCRIPT)) as server:
        plain = make_env(tmp_path / "plain", server.base_url)
        expected = _run(plain)
    with ModelServer(Script.from_json(SCRIPT)) as server:
        env = make_env(tmp_path, server.base_url, config_extra=_otel(_exporter(kind, down)))
        done = _run(env)
    # The run is the run it would have been; the loss is said once, at its end.
    assert done.stdout == expected.stdout
    last = done.stderr.splitlines()[-1]
    assert last.startswith("llmx exec: warning: otel: "), done.stderr
    assert "records were not exported" in last
    assert "Traceback" not in done.stderr
    assert done.stderr.count("otel") == 1


def test_without_the_extra_the_run_says_what_to_install(tmp_path: Path) -> None:
    """[otel] configured where the otel extra is not installed: a folder shadowing
    opentelemetry with a package that cannot be imported stands for its absence. The run
    is whole; its last line names the command that installs the extra (not
    "pip install 'llmx[otel]'": the package index has another project of that name)."""
    shadow = tmp_path / "shadow" / "opentelemetry"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ImportError(\"No module named 'opentelemetry'\")\n")
    (tmp_path / "run").mkdir()
    with ModelServer(Script.from_json(SCRIPT)) as server:
        env = make_env(tmp_path / "run", server.base_url,
                       config_extra=_otel(_exporter("otlp-http", "http://127.0.0.1:9")))
        done = env.run("-a", "untrusted", "--approval-decision", "approved", PROMPT,
                       env=env.env(PYTHONPATH=str(shadow.parent)))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "all done\n"
    assert done.stderr.splitlines()[-1] == (
        "llmx exec: warning: [otel] is configured but OpenTelemetry is not installed "
        f"— {expected_install_hint('otel')}")
    assert "Traceback" not in done.stderr


def test_without_otel_nothing_of_it_is_imported(tmp_path: Path) -> None:
    with ModelServer(Script.from_json(SCRIPT)) as server:
        env = make_env(tmp_path, server.base_url)
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "llmx", "exec", PROMPT],
            cwd=env.workspace, env=env.env(), capture_output=True, timeout=WAIT_SECONDS,
            check=False, stdin=subprocess.DEVNULL,
        )
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.decode().splitlines()
                if line.startswith("import time:") and "|" in line}
    loaded = sorted(name for name in imported
                    if name.startswith(("opentelemetry", "grpc", "psycopg", "requests",
                                        "google.protobuf", "llmx.cli.otel_live",
                                        "llmx.cli.otel_sink", "llmx.projections.otel")))
    assert loaded == []
    assert "llmx.runtime.threads.manager" in imported  # the listing is of a real run


def test_a_live_export_runs_beside_the_run_not_in_it(tmp_path: Path) -> None:
    """The run's own process never imports OpenTelemetry (its interpreter lock stays the
    event loop's): a process of its own exports what the receiver gets."""
    with OtlpReceiver() as receiver, ModelServer(Script.from_json(SCRIPT)) as server:
        env = make_env(tmp_path, server.base_url,
                       config_extra=_otel(_exporter("otlp-http", receiver.http_url)))
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "llmx", "exec", "-a", "untrusted",
             "--approval-decision", "approved", PROMPT],
            cwd=env.workspace, env=env.env(), capture_output=True, timeout=WAIT_SECONDS,
            check=False, stdin=subprocess.DEVNULL,
        )
        spans = receiver.spans()
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.decode().splitlines()
                if line.startswith("import time:") and "|" in line}
    assert "llmx.cli.otel_process" in imported
    assert sorted(name for name in imported
                  if name.startswith(("opentelemetry", "google.protobuf", "grpc",
                                      "llmx.cli.otel_sink"))) == []
    assert {span["name"] for span in spans} == {"llmx.thread", "llmx.turn",
                                                "llmx.model_request", "llmx.tool_call"}


def test_otel_export_refuses_what_it_cannot_do_in_one_line(tmp_path: Path) -> None:
    with ModelServer(Script.from_json(SCRIPT)) as server:
        env = make_env(tmp_path, server.base_url)
        _run(env)
    [rollout] = env.rollouts()
    unset = _export(env, rollout)
    assert (unset.returncode, unset.stdout) == (1, "")
    assert unset.stderr.startswith("llmx otel export: no [otel] exporter is configured — ")
    config = env.home / "config.toml"
    text = config.read_text()
    config.write_text(text.replace("[model_providers.mock]",
                                   '[otel]\nexporter = { otlp-carrier = { endpoint = "x" } }\n'
                                   "[model_providers.mock]"))
    bad = _export(env, rollout)
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1
    assert bad.stderr.startswith("llmx otel export: [otel] exporter = {otlp-carrier = ...}: ")
    assert "unknown exporter 'otlp-carrier'" in bad.stderr
    down = f"http://127.0.0.1:{_closed_port()}"
    config.write_text(text.replace("[model_providers.mock]",
                                   _otel(_exporter("otlp-http", down)) + "[model_providers.mock]"))
    refused = _export(env, rollout)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert "records were not exported" in refused.stderr
    missing = _export(env, tmp_path / "nope.jsonl")
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1
    assert "nope.jsonl" in missing.stderr


def test_every_attempt_and_every_server_sent_event_is_a_record(tmp_path: Path) -> None:
    # The first request is answered 500 once, then retried: two attempts.
    script = {"turns": [{"status": 500, "error": "overloaded", "items": []}, *SCRIPT["turns"]],
              "fallback": SCRIPT["fallback"]}
    with OtlpReceiver() as receiver, ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url,
                       config_extra=_otel(_exporter("otlp-http", receiver.http_url)))
        _run(env)
        [rollout] = env.rollouts()
        spans, logs = receiver.spans(), receiver.logs()
        metrics = receiver.metric_names()
        receiver.clear()
        exported = _export(env, rollout)
        assert exported.returncode == 0, exported.stderr
        assert receiver.logs() == logs
        assert receiver.spans() == spans
    lines = [json.loads(line) for line in rollout.read_text().splitlines()]
    exchanges = [line["payload"] for line in lines if line["type"] == "model_request"]
    assert [len(exchange["attempts"]) for exchange in exchanges] == [2, 1]
    events = _by_event(logs)
    requests = events["codex.api_request"]
    assert [r["attributes"]["attempt"] for r in requests] == [1, 2, 1]
    assert [r["attributes"]["http.response.status_code"] for r in requests] == [500, 200, 200]
    # As Codex sends them: durations and token counts as strings, the attempt, the status
    # and the cached and reasoning tokens as integers.
    assert all(isinstance(r["attributes"]["duration_ms"], str)
               and r["attributes"]["duration_ms"].isdigit() for r in requests)
    assert {r["attributes"]["endpoint"] for r in requests} == {"/responses"}
    # One record per event the server sent, by its name, plus one with each response's
    # tokens (as Codex sends both).
    streamed = [r for r in events["codex.sse_event"]
                if "input_token_count" not in r["attributes"]]
    sent = [run["kind"] for exchange in exchanges for attempt in exchange["attempts"]
            for run in attempt.get("sse", []) for _ in run["ms"]]
    assert [r["attributes"]["event.kind"] for r in streamed] == sent
    assert sent.count("response.completed") == 2
    assert sent.count("response.output_text.delta") == 2  # "all ", "done"
    assert "response.function_call_arguments.delta" in sent
    tokens = [r for r in events["codex.sse_event"] if "input_token_count" in r["attributes"]]
    assert len(tokens) == 2
    assert tokens[0]["attributes"]["tool_token_count"] == "110"
    assert {type(tokens[0]["attributes"][name]) for name in (
        "input_token_count", "output_token_count", "tool_token_count")} == {str}
    assert {type(tokens[0]["attributes"][name]) for name in (
        "cached_token_count", "reasoning_token_count")} == {int}
    assert all(isinstance(r["attributes"]["duration_ms"], str) for r in streamed)
    # Each request's records belong to its span.
    request_spans = [s for s in spans if s["name"] == "llmx.model_request"]
    assert {r["spanId"] for r in requests} == {s["spanId"] for s in request_spans}
    assert [s["attributes"]["llmx.request.attempts"] for s in request_spans] == [2, 1]
    assert {"codex.api_request", "codex.api_request.duration_ms", "codex.sse_event",
            "codex.sse_event.duration_ms"} <= metrics


def test_a_request_that_fails_is_a_failed_span_with_its_attempts(tmp_path: Path) -> None:
    script = {"turns": [{"status": 400, "error": "bad input", "items": []}]}
    with OtlpReceiver() as receiver, ModelServer(Script.from_json(script)) as server:
        env = make_env(tmp_path, server.base_url,
                       config_extra=_otel(_exporter("otlp-http", receiver.http_url)))
        done = env.run("hello")
        assert done.returncode == 1
        spans, logs = receiver.spans(), receiver.logs()
    [request] = [s for s in spans if s["name"] == "llmx.model_request"]
    assert request["status"] == "STATUS_CODE_ERROR"
    [attempt] = _by_event(logs)["codex.api_request"]
    assert attempt["attributes"]["http.response.status_code"] == 400
    assert attempt["spanId"] == request["spanId"]
    assert "codex.sse_event" not in _by_event(logs)
