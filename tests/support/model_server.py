"""A scripted model server on loopback: Responses API and Chat Completions over SSE.

In-process (tests)::

    with ModelServer(Script.from_json({...})) as server:
        server.base_url    # "http://127.0.0.1:PORT/v1"
        server.requests    # every request so far: method, path, headers, JSON body

As a process (benchmarks, subprocess tests)::

    python tests/support/model_server.py --script S.json --port-file F [--log L] [--port N]

It writes its port to F once it listens, logs each request as one JSON line to L (the
format of the Codex fixtures' ``requests/*.jsonl``), and runs until SIGTERM or SIGINT.
The script format is described in ``model_scripts.py``; it is the one the real Codex CLI
was driven with, so the same scripts drive llmx and Codex.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

if __package__ in (None, ""):
    # Run as a script: make ``support`` importable the way the test suite imports it.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.model_scripts import Script, Turn, last_user_text, output_items
from support.waits import WAIT_SECONDS

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class LoggedRequest:
    t: float
    method: str
    path: str
    headers: dict[str, str]
    body: Any

    def as_json(self) -> dict[str, Any]:
        return {"t": self.t, "method": self.method, "path": self.path,
                "headers": self.headers, "body": self.body}


# -- rendering a turn as wire events ----------------------------------------------------------


def _pieces(text: str) -> list[str]:
    """Word-sized deltas, as a model streams them (never empty)."""
    pieces: list[str] = []
    current = ""
    for char in text:
        current += char
        if char == " ":
            pieces.append(current)
            current = ""
    if current or not pieces:
        pieces.append(current)
    return pieces


def responses_events(turn: Turn, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response_id = f"resp_{uuid.uuid4().hex[:24]}"
    base = {"id": response_id, "object": "response", "created_at": int(time.time()),
            "model": "mock-model"}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**base, "status": "in_progress", "output": []}}
    ]
    for index, item in enumerate(items):
        kind = item["type"]
        if kind == "message":
            added = {**item, "status": "in_progress", "content": []}
            events.append({"type": "response.output_item.added", "output_index": index,
                           "item": added})
            text = item["content"][0]["text"]
            part = {"type": "output_text", "text": "", "annotations": []}
            events.append({"type": "response.content_part.added", "item_id": item["id"],
                           "output_index": index, "content_index": 0, "part": part})
            for piece in _pieces(text):
                events.append({"type": "response.output_text.delta", "item_id": item["id"],
                               "output_index": index, "content_index": 0, "delta": piece})
            events.append({"type": "response.output_text.done", "item_id": item["id"],
                           "output_index": index, "content_index": 0, "text": text})
            events.append({"type": "response.content_part.done", "item_id": item["id"],
                           "output_index": index, "content_index": 0,
                           "part": {**part, "text": text}})
        elif kind == "reasoning":
            events.append({"type": "response.output_item.added", "output_index": index,
                           "item": {**item, "summary": []}})
            for summary_index, summary in enumerate(item["summary"]):
                events.append({"type": "response.reasoning_summary_part.added",
                               "item_id": item["id"], "output_index": index,
                               "summary_index": summary_index,
                               "part": {"type": "summary_text", "text": ""}})
                for piece in _pieces(summary["text"]):
                    events.append({"type": "response.reasoning_summary_text.delta",
                                   "item_id": item["id"], "output_index": index,
                                   "summary_index": summary_index, "delta": piece})
                events.append({"type": "response.reasoning_summary_text.done",
                               "item_id": item["id"], "output_index": index,
                               "summary_index": summary_index, "text": summary["text"]})
        elif kind == "function_call":
            events.append({"type": "response.output_item.added", "output_index": index,
                           "item": {**item, "status": "in_progress", "arguments": ""}})
            events.append({"type": "response.function_call_arguments.delta",
                           "item_id": item["id"], "output_index": index,
                           "delta": item["arguments"]})
            events.append({"type": "response.function_call_arguments.done",
                           "item_id": item["id"], "output_index": index,
                           "arguments": item["arguments"]})
        elif kind == "custom_tool_call":
            events.append({"type": "response.output_item.added", "output_index": index,
                           "item": {**item, "status": "in_progress", "input": ""}})
            events.append({"type": "response.custom_tool_call_input.delta",
                           "item_id": item["id"], "output_index": index, "delta": item["input"]})
            events.append({"type": "response.custom_tool_call_input.done",
                           "item_id": item["id"], "output_index": index, "input": item["input"]})
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    events.append({"type": "response.completed",
                   "response": {**base, "status": "completed", "output": items,
                                "usage": turn.responses_usage()}})
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return events


def chat_usage(turn: Turn) -> dict[str, Any]:
    usage = turn.responses_usage()
    return {
        "prompt_tokens": usage["input_tokens"],
        "completion_tokens": usage["output_tokens"],
        "total_tokens": usage["total_tokens"],
        "prompt_tokens_details": {
            "cached_tokens": usage.get("input_tokens_details", {}).get("cached_tokens", 0)},
        "completion_tokens_details": {
            "reasoning_tokens": usage.get("output_tokens_details", {}).get("reasoning_tokens", 0)},
    }


def _chat_arguments(item: dict[str, Any]) -> str:
    if item["type"] == "custom_tool_call":
        return json.dumps({"input": item["input"]})
    return str(item["arguments"])


def chat_chunks(turn: Turn, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    chunk_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": chunk_id, "object": "chat.completion.chunk", "created": created,
                "model": "mock-model",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    calls = 0
    for item in items:
        if item["type"] == "message":
            chunks.extend(chunk({"content": p}) for p in _pieces(item["content"][0]["text"]))
        elif item["type"] == "reasoning":
            text = "\n\n".join(s["text"] for s in item["summary"])
            chunks.extend(chunk({"reasoning_content": p}) for p in _pieces(text))
        else:
            arguments = _chat_arguments(item)
            half = len(arguments) // 2
            head = {"index": calls, "id": item["call_id"], "type": "function",
                    "function": {"name": item["name"], "arguments": arguments[:half]}}
            chunks.append(chunk({"tool_calls": [head]}))
            tail = {"index": calls, "function": {"arguments": arguments[half:]}}
            chunks.append(chunk({"tool_calls": [tail]}))
            calls += 1
    chunks.append(chunk({}, "tool_calls" if calls else "stop"))
    chunks.append({"id": chunk_id, "object": "chat.completion.chunk", "created": created,
                   "model": "mock-model", "choices": [], "usage": chat_usage(turn)})
    return chunks


def chat_completion(turn: Turn, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The non-streaming Chat Completions answer."""
    message: dict[str, Any] = {"role": "assistant", "content": None}
    texts = [i["content"][0]["text"] for i in items if i["type"] == "message"]
    if texts:
        message["content"] = "".join(texts)
    calls = [{"id": i["call_id"], "type": "function",
              "function": {"name": i["name"], "arguments": _chat_arguments(i)}}
             for i in items if i["type"] in ("function_call", "custom_tool_call")]
    if calls:
        message["tool_calls"] = calls
    return {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
            "created": int(time.time()), "model": "mock-model",
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": chat_usage(turn)}


# -- the server ----------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ScriptedHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def handle(self) -> None:
        # A held server takes the connection and reads nothing of it until released: a
        # request body larger than the sockets' buffers then cannot be sent whole.
        if self.server.owner.connection_accepted():
            super().handle()

    def _read_body(self) -> Any:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode("utf-8", errors="replace")

    def _record(self, body: Any) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.owner.record(LoggedRequest(time.time(), self.command, self.path, headers, body))

    def _send_json(self, status: int, payload: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._record(None)
        if self.path.rstrip("/").endswith("/models"):
            models = {"object": "list", "data": [{"id": "mock-model", "object": "model"}]}
            self._send_json(200, json.dumps(models).encode())
        else:
            self._send_json(404, json.dumps({"error": {"message": "not found"}}).encode())

    def do_POST(self) -> None:
        body = self._read_body()
        self._record(body)
        path = self.path.split("?", 1)[0].rstrip("/")
        if path.endswith("/models"):
            # A JSON answer where a client expects a stream: a misconfigured base_url.
            models = {"object": "list", "data": [{"id": "mock-model", "object": "model"}]}
            self._send_json(200, json.dumps(models).encode())
            return
        wire = "chat" if path.endswith("/chat/completions") else "responses"
        if not (path.endswith("/responses") or wire == "chat"):
            self._send_json(404, json.dumps({"error": {"message": f"no route {path}"}}).encode())
            return
        request = body if isinstance(body, dict) else {}
        turn = self.server.owner.script.next_turn(last_user_text(request))
        stopping = self.server.owner.stopping
        if turn.delay and stopping.wait(turn.delay):
            return
        if turn.status >= 400:
            extra = {"retry-after": turn.retry_after} if turn.retry_after is not None else None
            self._send_json(turn.status, turn.error_body(), extra)
            return
        items = list(output_items(turn, request))
        if request.get("stream") is False:
            if wire == "chat":
                answer = chat_completion(turn, items)
            else:
                answer = responses_events(turn, items)[-1]["response"]
            self._send_json(200, json.dumps(answer).encode())
            return
        try:
            self._stream(turn, self._sse_frames(turn, items, wire))
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (idle timeout, cancelled turn); nothing to answer.
            self.close_connection = True

    def _sse_frames(self, turn: Turn, items: list[dict[str, Any]], wire: str) -> list[bytes]:
        if wire == "chat":
            frames = [f"data: {json.dumps(c)}\n\n".encode() for c in chat_chunks(turn, items)]
            frames.append(b"data: [DONE]\n\n")
        else:
            frames = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode()
                      for e in responses_events(turn, items)]
        if turn.truncate:
            # Cut before the terminal frame(s): the client must notice the stream ended early.
            frames = frames[: -3 if wire == "chat" else -1]
        injected = [f"data: {text}\n\n".encode() for text in turn.inject]
        return frames[:1] + injected + frames[1:]

    def _stream(self, turn: Turn, frames: list[bytes]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        stopping = self.server.owner.stopping
        pause_after = turn.pause_after.encode() if turn.pause_after else None
        for number, frame in enumerate(frames):
            if number > 0 and turn.chunk_delay and stopping.wait(turn.chunk_delay):
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            self.wfile.flush()
            if number == 0 and turn.stall and stopping.wait(turn.stall):
                return
            if pause_after is not None and pause_after in frame:
                pause_after = None
                if stopping.wait(turn.pause):
                    return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _ScriptedHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: ModelServer, port: int, verbose: bool) -> None:
        self.owner = owner
        self.verbose = verbose
        super().__init__((LOOPBACK, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that drops a kept-alive connection (or stops reading a stream it has
        # what it needs from) is normal; only other failures deserve a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class ModelServer:
    """The server in a background thread; a context manager."""

    def __init__(
        self, script: Script, *, port: int = 0, log_path: Path | None = None,
        verbose: bool = False,
    ) -> None:
        self.script = script
        self.stopping = threading.Event()
        self._requests: list[LoggedRequest] = []
        self._lock = threading.Lock()
        # Set: connections are read as they come; cleared by hold_reading().
        self._reading = threading.Event()
        self._reading.set()
        self._connections = 0
        self._log = log_path.open("a", encoding="utf-8") if log_path is not None else None
        self._http = _ScriptedHTTPServer(self, port, verbose)
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.02,),
                                        name="model-server",
                                        daemon=True)

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/v1"

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._requests)

    def model_requests(self) -> list[LoggedRequest]:
        """Only the POSTs to the model endpoints."""
        return [r for r in self.requests if r.method == "POST"]

    @property
    def connections(self) -> int:
        """How many connections the server has accepted so far."""
        with self._lock:
            return self._connections

    def hold_reading(self) -> None:
        """Accept connections but read nothing from them until :meth:`release_reading`."""
        self._reading.clear()

    def release_reading(self) -> None:
        self._reading.set()

    def connection_accepted(self) -> bool:
        """Count a connection and wait while reading is held; False once stopping."""
        with self._lock:
            self._connections += 1
        while not self._reading.wait(0.02):
            if self.stopping.is_set():
                return False
        return True

    def record(self, request: LoggedRequest) -> None:
        with self._lock:
            self._requests.append(request)
            if self._log is not None:
                self._log.write(json.dumps(request.as_json()) + "\n")
                self._log.flush()

    def start(self) -> ModelServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(WAIT_SECONDS)
        assert not self._thread.is_alive(), "the model server's thread did not stop"
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def scripted(data: Any) -> ModelServer:
    """A server for a script given as JSON data (a dict or a list of turns)."""
    return ModelServer(Script.from_json(data))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Scripted model server on 127.0.0.1.")
    parser.add_argument("--script", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path)
    parser.add_argument("--log", type=Path)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    try:
        script = Script.load(args.script)
    except (OSError, ValueError) as exc:
        print(f"model_server: cannot load script {args.script}: {exc}", file=sys.stderr)
        return 2
    server = ModelServer(script, port=args.port, log_path=args.log, verbose=args.verbose)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    server.start()
    if args.port_file is not None:
        partial = args.port_file.with_name(args.port_file.name + ".tmp")
        partial.write_text(f"{server.port}\n", encoding="utf-8")
        os.replace(partial, args.port_file)
    print(f"model_server: pid={os.getpid()} port={server.port}", file=sys.stderr, flush=True)
    done.wait()  # bounded by whoever started this server: it stops on SIGTERM or SIGINT
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
