"""A real OTLP receiver on loopback, built on opentelemetry-proto: HTTP (protobuf or JSON,
``POST /v1/traces|logs|metrics``) and gRPC (the Trace, Logs and Metrics services).

What arrives is decoded into plain dicts (:meth:`OtlpReceiver.spans`, ``logs``,
``metrics``) so tests compare what a live run sent with what ``llmx otel export`` sent.
"""

from __future__ import annotations

import json
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict, ParseDict
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

_REQUESTS = {
    "/v1/traces": (trace_service_pb2.ExportTraceServiceRequest,
                   trace_service_pb2.ExportTraceServiceResponse),
    "/v1/logs": (logs_service_pb2.ExportLogsServiceRequest,
                 logs_service_pb2.ExportLogsServiceResponse),
    "/v1/metrics": (metrics_service_pb2.ExportMetricsServiceRequest,
                    metrics_service_pb2.ExportMetricsServiceResponse),
}


def _value(any_value: dict[str, Any]) -> Any:
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in any_value:
            return any_value[key]
    if "intValue" in any_value:
        return int(any_value["intValue"])
    return any_value


def _attributes(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {item["key"]: _value(item.get("value", {})) for item in items}


class OtlpReceiver:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.content_types: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                kinds = _REQUESTS.get(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if kinds is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                request_type, response_type = kinds
                content_type = self.headers.get("Content-Type", "")
                if content_type.startswith("application/json"):
                    message = ParseDict(_ids_to_base64(json.loads(body)), request_type())
                else:
                    message = request_type.FromString(body)
                receiver._store(self.path, message, content_type)
                reply = response_type().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                return None

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http_thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))

        class Traces(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                receiver._store("/v1/traces", request, "grpc")
                return trace_service_pb2.ExportTraceServiceResponse()

        class Logs(logs_service_pb2_grpc.LogsServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                receiver._store("/v1/logs", request, "grpc")
                return logs_service_pb2.ExportLogsServiceResponse()

        class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                receiver._store("/v1/metrics", request, "grpc")
                return metrics_service_pb2.ExportMetricsServiceResponse()

        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), self.grpc)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), self.grpc)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), self.grpc)
        self.grpc_port = self.grpc.add_insecure_port("127.0.0.1:0")

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}"

    @property
    def grpc_url(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    def __enter__(self) -> OtlpReceiver:
        self._http_thread.start()
        self.grpc.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.grpc.stop(grace=None)

    def _store(self, path: str, message: Any, content_type: str) -> None:
        with self.lock:
            self.requests.append((path, MessageToDict(message)))
            self.content_types.append(content_type)

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()
            self.content_types.clear()

    # -- what arrived, flattened -----------------------------------------------------------

    def spans(self) -> list[dict[str, Any]]:
        found = []
        with self.lock:
            requests = list(self.requests)
        for path, body in requests:
            if path != "/v1/traces":
                continue
            for resource in body.get("resourceSpans", []):
                service = _attributes(resource.get("resource", {}).get("attributes", []))
                for scope in resource.get("scopeSpans", []):
                    for span in scope.get("spans", []):
                        found.append({
                            "name": span["name"], "traceId": span["traceId"],
                            "spanId": span["spanId"],
                            "parentSpanId": span.get("parentSpanId", ""),
                            "start": int(span["startTimeUnixNano"]),
                            "end": int(span["endTimeUnixNano"]),
                            "attributes": _attributes(span.get("attributes", [])),
                            "status": span.get("status", {}).get("code", ""),
                            "service": service.get("service.name"),
                        })
        return sorted(found, key=lambda s: (s["start"], s["name"], s["spanId"]))

    def logs(self) -> list[dict[str, Any]]:
        found = []
        with self.lock:
            requests = list(self.requests)
        for path, body in requests:
            if path != "/v1/logs":
                continue
            for resource in body.get("resourceLogs", []):
                for scope in resource.get("scopeLogs", []):
                    for record in scope.get("logRecords", []):
                        found.append({
                            "time": int(record.get("timeUnixNano", 0)),
                            "traceId": record.get("traceId", ""),
                            "spanId": record.get("spanId", ""),
                            "attributes": _attributes(record.get("attributes", [])),
                        })
        return sorted(found, key=lambda r: (r["time"], r["attributes"].get("event.name", ""),
                                            r["spanId"]))

    def metric_names(self) -> set[str]:
        names = set()
        with self.lock:
            requests = list(self.requests)
        for path, body in requests:
            if path != "/v1/metrics":
                continue
            for resource in body.get("resourceMetrics", []):
                for scope in resource.get("scopeMetrics", []):
                    names.update(metric["name"] for metric in scope.get("metrics", []))
        return names


def _ids_to_base64(node: Any) -> Any:
    """OTLP JSON carries ids in hex; protobuf's JSON parser wants base64 for bytes."""
    import base64

    if isinstance(node, dict):
        return {key: (base64.b64encode(bytes.fromhex(value)).decode()
                      if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str)
                      else _ids_to_base64(value))
                for key, value in node.items()}
    if isinstance(node, list):
        return [_ids_to_base64(item) for item in node]
    return node
