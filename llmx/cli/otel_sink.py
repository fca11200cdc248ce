"""Sending the records of :mod:`llmx.projections.otel_fold` over OTLP: the one module that
imports OpenTelemetry (the SDK and its OTLP exporters, the optional ``otel`` extra), and
only once an exporter is configured.

Spans and log records are built with the ids and times the fold gave them and handed to
the exporters directly (no SDK processor of their own: the caller's worker thread is the
batching). Metrics go through a ``MeterProvider`` whose reader exports when the sink
closes. OTLP/HTTP in binary uses the SDK's exporters; OTLP/HTTP in JSON encodes the same
protobuf requests as OTLP's JSON (ids in hex) and posts them with httpx.

A failed export is counted, never raised, and never logged through ``logging`` (the SDK's
own complaints are silenced): the run reports the count once, at its end.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence
from typing import Any

from llmx.cli.otel_settings import ExporterSpec, OtelSettings
from llmx.projections.otel_fold import LogRecord, MetricPoint, Record, SpanRecord

# Each export waits at most this long: a slow receiver costs a worker thread, not a run.
EXPORT_TIMEOUT_S = 5.0


class OtelMissing(Exception):
    """The ``otel`` extra is not installed."""


def _quiet() -> None:
    log = logging.getLogger("opentelemetry")
    log.addHandler(logging.NullHandler())
    log.propagate = False


class OtlpSink:
    """Exports records; :attr:`failed` counts those that did not arrive."""

    def __init__(self, settings: OtelSettings, *, service_name: str, version: str) -> None:
        try:
            from opentelemetry.sdk.resources import Resource  # noqa: F401  (the extra is here)
            from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        except ImportError:
            raise OtelMissing from None
        _quiet()
        self.settings = settings
        self.failed = 0
        self.sent = 0
        self._version = version
        self._resources: dict[str, Any] = {}
        self.resource = self._resource(service_name)
        self.scope = InstrumentationScope("llmx", version)
        self._spans = _span_exporter(settings.traces) if settings.traces else None
        self._logs = _log_exporter(settings.logs) if settings.logs else None
        self._meters: Any = None
        self._instruments: dict[str, Any] = {}
        if settings.metrics is not None:
            self._meters = _meter_provider(settings.metrics, self.resource)

    def _resource(self, service_name: str) -> Any:
        """The resource of one service (a thread's originator), built once."""
        from opentelemetry.sdk.resources import Resource

        resource = self._resources.get(service_name)
        if resource is None:
            resource = self._resources[service_name] = Resource.create({
                "service.name": service_name, "service.version": self._version,
                "env": self.settings.environment, "host.name": socket.gethostname(),
            })
        return resource

    # -- export ----------------------------------------------------------------------------

    def export(self, records: Sequence[Record], *, service_name: str | None = None) -> None:
        """Send ``records``; their spans and log records carry the resource of
        ``service_name`` (default: the sink's own)."""
        resource = self.resource if service_name is None else self._resource(service_name)
        spans = [r for r in records if isinstance(r, SpanRecord)]
        logs = [r for r in records if isinstance(r, LogRecord)]
        points = [r for r in records if isinstance(r, MetricPoint)]
        if spans and self._spans is not None:
            self._count(self._spans.export([self._span(r, resource) for r in spans]),
                        len(spans))
        if logs and self._logs is not None:
            self._count(self._logs.export([self._log(r, resource) for r in logs]), len(logs))
        if points and self._meters is not None:
            for point in points:
                self._record(point)

    def _count(self, result: Any, count: int) -> None:
        if getattr(result, "name", "") == "SUCCESS":
            self.sent += count
        else:
            self.failed += count

    def _span(self, record: SpanRecord, resource: Any) -> Any:
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.trace import SpanContext, SpanKind, TraceFlags
        from opentelemetry.trace.status import Status, StatusCode

        def context(span_id: int) -> SpanContext:
            return SpanContext(record.trace_id, span_id, is_remote=False,
                               trace_flags=TraceFlags(TraceFlags.SAMPLED))

        return ReadableSpan(
            record.name, context=context(record.span_id),
            parent=context(record.parent_id) if record.parent_id else None,
            resource=resource, attributes=record.attributes, kind=SpanKind.INTERNAL,
            status=Status(StatusCode.OK if record.ok else StatusCode.ERROR),
            start_time=record.start_ns, end_time=record.end_ns,
            instrumentation_scope=self.scope,
        )

    def _log(self, record: LogRecord, resource: Any) -> Any:
        from opentelemetry._logs import LogRecord as ApiLogRecord
        from opentelemetry._logs import SeverityNumber
        from opentelemetry.sdk._logs import ReadableLogRecord
        from opentelemetry.trace import (
            NonRecordingSpan,
            SpanContext,
            TraceFlags,
            set_span_in_context,
        )

        context = None
        if record.span_id:
            span = NonRecordingSpan(SpanContext(record.trace_id, record.span_id,
                                                is_remote=False,
                                                trace_flags=TraceFlags(TraceFlags.SAMPLED)))
            context = set_span_in_context(span)
        log = ApiLogRecord(
            timestamp=record.time_ns, observed_timestamp=record.time_ns, context=context,
            severity_text="INFO", severity_number=SeverityNumber.INFO,
            body=record.event_name, attributes=record.attributes,
            event_name=record.event_name,
        )
        return ReadableLogRecord(log, resource, self.scope)

    def _record(self, point: MetricPoint) -> None:
        instrument = self._instruments.get(point.name)
        if instrument is None:
            meter = self._meters.get_meter("llmx")
            instrument = (meter.create_counter(point.name) if point.kind == "counter"
                          else meter.create_histogram(point.name))
            self._instruments[point.name] = instrument
        if point.kind == "counter":
            instrument.add(point.value, point.attributes)
        else:
            instrument.record(point.value, point.attributes)

    def flush_metrics(self) -> None:
        """Export the metrics now (at a turn's end), not only every interval."""
        if self._meters is None:
            return
        try:
            flushed = self._meters.force_flush(timeout_millis=int(EXPORT_TIMEOUT_S * 1000))
        except Exception:  # counted, as a failed shutdown is
            flushed = False
        if not flushed:
            self.failed += 1

    def shutdown(self) -> None:
        """Export the metrics and let go of the connections."""
        if self._meters is not None:
            try:
                self._meters.shutdown(timeout_millis=int(EXPORT_TIMEOUT_S * 1000))
            except Exception:  # a metrics exporter's failure is counted, not raised
                self.failed += 1
        for exporter in (self._spans, self._logs):
            if exporter is not None:
                try:
                    exporter.shutdown()
                except Exception:
                    self.failed += 0


# -- exporters -------------------------------------------------------------------------------


def _tls_kwargs_http(spec: ExporterSpec) -> dict[str, Any]:
    if spec.tls is None:
        return {}
    return {"certificate_file": spec.tls.ca_certificate,
            "client_certificate_file": spec.tls.client_certificate,
            "client_key_file": spec.tls.client_private_key}


def _grpc_kwargs(spec: ExporterSpec) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"endpoint": spec.endpoint, "headers": spec.headers or None,
                              "timeout": EXPORT_TIMEOUT_S}
    if spec.tls is not None:
        import grpc

        def read(path: str | None) -> bytes | None:
            if path is None:
                return None
            with open(path, "rb") as handle:
                return handle.read()

        kwargs["credentials"] = grpc.ssl_channel_credentials(
            read(spec.tls.ca_certificate), read(spec.tls.client_private_key),
            read(spec.tls.client_certificate))
    else:
        kwargs["insecure"] = spec.endpoint.startswith("http://")
    return kwargs


def _span_exporter(spec: ExporterSpec) -> Any:
    if spec.kind == "otlp-grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(**_grpc_kwargs(spec))
    if spec.protocol == "json":
        return _JsonExporter(spec, "traces")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpSpanExporter,
    )

    return HttpSpanExporter(endpoint=spec.endpoint_for("traces"), headers=spec.headers,
                            timeout=EXPORT_TIMEOUT_S, **_tls_kwargs_http(spec))


def _log_exporter(spec: ExporterSpec) -> Any:
    if spec.kind == "otlp-grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        return OTLPLogExporter(**_grpc_kwargs(spec))
    if spec.protocol == "json":
        return _JsonExporter(spec, "logs")
    from opentelemetry.exporter.otlp.proto.http._log_exporter import (
        OTLPLogExporter as HttpLogExporter,
    )

    return HttpLogExporter(endpoint=spec.endpoint_for("logs"), headers=spec.headers,
                           timeout=EXPORT_TIMEOUT_S, **_tls_kwargs_http(spec))


def _meter_provider(spec: ExporterSpec, resource: Any) -> Any:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    exporter: Any
    if spec.kind == "otlp-grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        exporter = OTLPMetricExporter(**_grpc_kwargs(spec))
    elif spec.protocol == "json":
        exporter = _JsonMetricExporter(spec)
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
            OTLPMetricExporter as HttpMetricExporter,
        )

        exporter = HttpMetricExporter(endpoint=spec.endpoint_for("metrics"),
                                      headers=spec.headers, timeout=EXPORT_TIMEOUT_S,
                                      **_tls_kwargs_http(spec))
    # Exported at each turn's end (see OtlpSink.flush_metrics), when the sink shuts down,
    # and in between every OTEL_METRIC_EXPORT_INTERVAL milliseconds (the SDK's variable;
    # 60 s unless set), so a long turn of a long session is seen too.
    reader = PeriodicExportingMetricReader(exporter)
    return MeterProvider(resource=resource, metric_readers=[reader])


class _Result:
    def __init__(self, ok: bool) -> None:
        self.name = "SUCCESS" if ok else "FAILURE"


def _json_body(message: Any) -> bytes:
    """OTLP's JSON form of a protobuf request: ids as hex strings, not base64."""
    import base64
    import json

    from google.protobuf.json_format import MessageToDict

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: (base64.b64decode(value).hex()
                          if key in ("traceId", "spanId", "parentSpanId") and
                          isinstance(value, str) else fix(value))
                    for key, value in node.items()}
        if isinstance(node, list):
            return [fix(item) for item in node]
        return node

    return json.dumps(fix(MessageToDict(message))).encode()


def _post_json(spec: ExporterSpec, signal: str, message: Any) -> bool:
    import httpx

    verify: Any = True
    if spec.tls is not None:
        import ssl

        verify = ssl.create_default_context(cafile=spec.tls.ca_certificate)
        if spec.tls.client_certificate and spec.tls.client_private_key:
            verify.load_cert_chain(spec.tls.client_certificate, spec.tls.client_private_key)
    try:
        response = httpx.post(
            spec.endpoint_for(signal), content=_json_body(message),
            headers={**spec.headers, "Content-Type": "application/json"},
            timeout=EXPORT_TIMEOUT_S, verify=verify,
        )
    except httpx.HTTPError:
        return False
    return response.is_success


class _JsonExporter:
    def __init__(self, spec: ExporterSpec, signal: str) -> None:
        self.spec = spec
        self.signal = signal

    def export(self, batch: Sequence[Any]) -> _Result:
        if self.signal == "traces":
            from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

            return _Result(_post_json(self.spec, "traces", encode_spans(batch)))
        from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs

        return _Result(_post_json(self.spec, "logs", encode_logs(batch)))

    def shutdown(self) -> None:
        return None


def _JsonMetricExporter(spec: ExporterSpec) -> Any:
    from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
    from opentelemetry.sdk.metrics import Counter, Histogram
    from opentelemetry.sdk.metrics.export import (
        AggregationTemporality,
        MetricExporter,
        MetricExportResult,
    )

    class JsonMetricExporter(MetricExporter):
        def __init__(self) -> None:
            super().__init__(preferred_temporality={
                Counter: AggregationTemporality.CUMULATIVE,
                Histogram: AggregationTemporality.CUMULATIVE,
            })

        def export(self, metrics_data: Any, timeout_millis: float = 10_000,
                   **kwargs: Any) -> MetricExportResult:
            ok = _post_json(spec, "metrics", encode_metrics(metrics_data))
            return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

        def force_flush(self, timeout_millis: float = 10_000) -> bool:
            return True

        def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
            return None

    return JsonMetricExporter()
