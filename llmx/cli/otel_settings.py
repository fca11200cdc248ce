"""``[otel]`` read as Codex reads it, into plain settings (nothing of OpenTelemetry imported).

An exporter is ``"none"``, ``{otlp-http = {endpoint, protocol = "binary" | "json", headers,
tls}}`` or ``{otlp-grpc = {endpoint, headers, tls}}``, with ``tls = {ca-certificate,
client-certificate, client-private-key}`` (relative paths against the llmx home).
``exporter`` carries the logs, ``trace_exporter`` the spans (default: the same as
``exporter``), ``metrics_exporter`` the metrics (default none). Codex wants an HTTP
endpoint to name its signal's path (``/v1/logs``...); llmx puts each signal's own path in
place of another signal's, or adds it to an endpoint without a path, so one endpoint
serves all three.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from llmx.cli.errors import CommandError

SIGNAL_PATHS = {"logs": "/v1/logs", "traces": "/v1/traces", "metrics": "/v1/metrics"}


class Tls(NamedTuple):
    ca_certificate: str | None = None
    client_certificate: str | None = None
    client_private_key: str | None = None


class ExporterSpec(NamedTuple):
    kind: str  # "otlp-http" or "otlp-grpc"
    endpoint: str
    protocol: str = "binary"
    headers: dict[str, str] = {}  # noqa: RUF012  (a NamedTuple default, never mutated)
    tls: Tls | None = None

    def endpoint_for(self, signal: str) -> str:
        """The URL of ``signal`` (``logs``, ``traces``, ``metrics``) for HTTP."""
        if self.kind != "otlp-http":
            return self.endpoint
        base = self.endpoint.rstrip("/")
        for path in SIGNAL_PATHS.values():
            if base.endswith(path):
                return base[: -len(path)] + SIGNAL_PATHS[signal]
        scheme_end = base.find("://")
        if "/" not in base[scheme_end + 3 if scheme_end >= 0 else 0 :]:
            return base + SIGNAL_PATHS[signal]
        return base


class OtelSettings(NamedTuple):
    environment: str
    logs: ExporterSpec | None
    traces: ExporterSpec | None
    metrics: ExporterSpec | None
    log_user_prompt: bool
    log_agent_responses: bool
    tool_result_max_bytes: int | None

    @property
    def enabled(self) -> bool:
        return any((self.logs, self.traces, self.metrics))


def _bad(key: str, value: Any, why: str) -> CommandError:
    # Only the shape is repeated: the values of a table may be credentials (headers).
    shown = repr(value) if isinstance(value, str) else (
        "{" + ", ".join(f"{name} = ..." for name in value) + "}" if isinstance(value, dict)
        else type(value).__name__)
    return CommandError(
        f"[otel] {key} = {shown}: {why}",
        'use "none", {otlp-http = {endpoint = "...", protocol = "binary"}} or '
        '{otlp-grpc = {endpoint = "..."}}',
    )


def exporter_spec(key: str, value: Any, home: Path) -> ExporterSpec | None:
    """One exporter's value, checked; None for ``"none"``."""
    if value is None or value == "none":
        return None
    if value == "statsig":
        return None  # Codex's own metrics service: not something llmx sends to
    if not isinstance(value, dict) or len(value) != 1:
        raise _bad(key, value, "not an exporter")
    [(kind, body)] = value.items()
    if kind not in ("otlp-http", "otlp-grpc") or not isinstance(body, dict):
        raise _bad(key, value, f"unknown exporter {kind!r}")
    endpoint = body.get("endpoint")
    if not isinstance(endpoint, str) or "://" not in endpoint:
        raise _bad(key, value, "needs an endpoint URL (http://HOST:PORT...)")
    protocol = body.get("protocol", "binary")
    if kind == "otlp-http" and protocol not in ("binary", "json"):
        raise _bad(key, value, f'protocol {protocol!r} is not "binary" or "json"')
    headers = body.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        # The value is not repeated: headers carry credentials.
        raise _bad(key, value, "headers must be a table of strings")
    tls = None
    raw_tls = body.get("tls")
    if isinstance(raw_tls, dict):
        def path(name: str) -> str | None:
            given = raw_tls.get(name)
            return str(home / given) if isinstance(given, str) else None

        tls = Tls(path("ca-certificate"), path("client-certificate"),
                  path("client-private-key"))
    return ExporterSpec(kind, endpoint, str(protocol), dict(headers), tls)


def otel_settings(config: Any, home: Path) -> OtelSettings:
    """The ``[otel]`` section of a loaded configuration (``config.otel``)."""
    otel = config.otel
    logs = exporter_spec("exporter", otel.exporter, home)
    trace_value = otel.trace_exporter if otel.trace_exporter is not None else otel.exporter
    traces = exporter_spec("trace_exporter", trace_value, home)
    metrics = exporter_spec("metrics_exporter", otel.metrics_exporter, home)
    return OtelSettings(otel.environment, logs, traces, metrics, bool(otel.log_user_prompt),
                        bool(otel.log_agent_responses), otel.tool_result.max_bytes)


def otel_configured(config: Any) -> bool:
    """Whether ``[otel]`` names any exporter (checked without building anything)."""
    otel = config.otel
    quiet = (None, "none", "statsig")
    return not (otel.exporter in quiet and otel.trace_exporter in quiet
                and otel.metrics_exporter in quiet)
