"""A raw JSON-RPC client for ``llmx app-server`` on stdio, as Codex's clients speak it.

Every line the server writes is decoded and validated against Codex's schema as it is
read, so any test that talks to the server also checks the wire.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from support.app_server_schema import FIXTURES, check_server_message
from support.waits import WAIT_SECONDS, read_within

RICH_ROLLOUTS = FIXTURES / "codex-rich" / "rollouts"


def make_home(root: Path, base_url: str = "http://127.0.0.1:9/v1", extra: str = "") -> Path:
    """An ``LLMX_HOME`` whose config names the loopback model server ``base_url``."""
    home = root / "home"
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text(
        'model = "mock-model"\nmodel_provider = "mock"\n'
        f"{extra}\n"
        "[model_providers.mock]\n"
        'name = "mock"\n'
        f'base_url = "{base_url}"\n'
        'env_key = "LLMX_TEST_MODEL_KEY"\n'
        'wire_api = "responses"\n'
        "request_max_retries = 2\n"
        "stream_max_retries = 0\n"
    )
    return home


def install_rollout(home: Path, fixture: str) -> str:
    """Put a Codex fixture rollout where Codex would have written it; its thread id."""
    source = RICH_ROLLOUTS / f"{fixture}.rollout.jsonl"
    meta = json.loads(source.read_text().splitlines()[0])["payload"]
    stamp = meta["timestamp"][:19].replace(":", "-")
    day = home / "sessions" / stamp[:4] / stamp[5:7] / stamp[8:10]
    day.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, day / f"rollout-{stamp}-{meta['id']}.jsonl")
    return str(meta["id"])


class AppServer:
    def __init__(self, home: Path, cwd: Path, *, config: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> None:
        argv = [sys.executable, "-m", "llmx"]
        for pair in config:
            argv += ["--config", pair]
        argv += ["app-server", "--listen", "stdio://"]
        base = {k: v for k, v in os.environ.items() if not k.startswith(("LLMX_", "OPENAI_"))}
        base.update(LLMX_HOME=str(home), **(env or {}))
        self.proc = subprocess.Popen(argv, cwd=cwd, env=base, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._ids = itertools.count(1)
        self._buffer = b""
        # Everything the server sent, in order (validated).
        self.received: list[dict[str, Any]] = []
        self.requests: dict[Any, str] = {}
        self._stderr: str | None = None

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        if "id" in message and "method" in message:
            self.requests[message["id"]] = message["method"]
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def next_message(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            chunk = read_within(fd, 1 << 16, "a line from llmx app-server")
            if not chunk:
                raise AssertionError(f"llmx app-server closed stdout; stderr:\n{self.stderr()}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message = json.loads(line)
        assert isinstance(message, dict), line
        check_server_message(message, self.requests)
        self.received.append(message)
        return message

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a request and return its response (result or error); notifications that
        come first stay in :attr:`received`."""
        request_id = f"req-{next(self._ids)}"
        message: dict[str, Any] = {"id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        while True:
            answer = self.next_message()
            if answer.get("id") == request_id and "method" not in answer:
                return answer

    def start_thread(self, **params: Any) -> str:
        answer = self.call("thread/start", params)
        assert "result" in answer, answer
        return str(answer["result"]["thread"]["id"])

    def initialize(self) -> dict[str, Any]:
        answer = self.call("initialize", {"clientInfo": {"name": "llmx_tests", "version": "1.0"},
                                          "capabilities": {"experimentalApi": True}})
        self.send({"method": "initialized"})
        return answer

    def stderr(self) -> str:
        """What the server wrote on stderr (known once it has ended)."""
        if self._stderr is None and self.proc.poll() is not None:
            assert self.proc.stderr is not None
            self._stderr = self.proc.stderr.read().decode("utf-8", "replace")
        return self._stderr or ""

    def close(self) -> int:
        assert self.proc.stdin is not None
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            return self.proc.wait(timeout=WAIT_SECONDS)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=WAIT_SECONDS)
            self.stderr()
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()

    def __enter__(self) -> AppServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Decide = Any  # (method, params) -> result for a server request


def drive_turn(server: AppServer, thread_id: str, text: str, decide: Decide = None,
               *, on_message: Any = None,
               settings: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Start a turn (with turn/start's own ``settings``) and read until its
    ``turn/completed``, answering server requests with ``decide(method, params)``; every
    message read on the way (the response included)."""
    request_id = f"turn-{next(server._ids)}"
    server.send({"id": request_id, "method": "turn/start",
                 "params": {"threadId": thread_id, **(settings or {}),
                            "input": [{"type": "text", "text": text}]}})
    seen: list[dict[str, Any]] = []
    turn_id = None
    while True:
        message = server.next_message()
        seen.append(message)
        if message.get("id") == request_id and "method" not in message:
            assert "result" in message, message
            turn_id = message["result"]["turn"]["id"]
        elif "method" in message and "id" in message:
            assert decide is not None, f"unexpected server request {message}"
            server.send({"id": message["id"], "result": decide(message["method"],
                                                               message["params"])})
        if on_message is not None:
            on_message(message)
        if (message.get("method") == "turn/completed"
                and message["params"]["turn"]["id"] == turn_id):
            return seen
