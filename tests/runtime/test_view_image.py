"""``view_image`` through a real turn: the model asks for a local image, the next
request carries it after the call's output, the rollout names the file."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest
from support.model_scripts import Script
from support.model_server import ModelServer
from support.waits import WAIT_SECONDS, within

from llmx.events.primitives import TextInput
from llmx.runtime import ThreadManager, ThreadOptions

KEY_ENV = "LLMX_VIEW_IMAGE_TEST_KEY"
# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def call(path: str) -> dict[str, str]:
    return {"type": "function_call", "name": "view_image",
            "arguments": json.dumps({"path": path})}


def _workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "project"
    workspace.mkdir()
    subprocess.run(["git", "init", "-q", str(workspace)], check=True, timeout=WAIT_SECONDS)
    return workspace


@pytest.mark.asyncio
async def test_the_image_goes_with_the_next_request(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    (workspace / "shot.png").write_bytes(PNG)
    (workspace / "notes.txt").write_text("not an image")
    script = {"turns": [{"items": [call("shot.png"), call("missing.png"), call("notes.txt")]},
                        {"items": [{"type": "message", "text": "a single pixel"}]}]}
    home = tmp_path / "home"
    home.mkdir()
    with ModelServer(Script.from_json(script)) as server:
        (home / "config.toml").write_text(
            'model = "mock-model"\nmodel_provider = "mock"\n[model_providers.mock]\n'
            f'name = "mock"\nbase_url = "{server.base_url}"\nenv_key = "{KEY_ENV}"\n')
        async with ThreadManager(home, model_env={KEY_ENV: "dummy"}) as manager:
            thread = await manager.open(ThreadOptions(cwd=workspace))
            await thread.submit(thread.user_turn([TextInput(text="look at shot.png")]))
            await within(thread.close(), "the thread to close")
        second = server.model_requests()[1].body["input"]
    assert thread.outcome.last_agent_message == "a single pixel"
    outputs = [item["output"] for item in second if item.get("type") == "function_call_output"]
    assert outputs[0] == "attached local image path"
    assert outputs[1] == (f"unable to locate image at `{workspace / 'missing.png'}`: "
                          "No such file or directory")
    assert outputs[2] == f"`{workspace / 'notes.txt'}` is not a PNG, JPEG, GIF or WebP image"
    # After every output of the round, the image itself.
    last_output = max(i for i, item in enumerate(second)
                      if item.get("type") == "function_call_output")
    image = second[last_output + 1]
    assert image["role"] == "user"
    assert image["content"] == [{"type": "input_image", "image_url":
                                 "data:image/png;base64," + base64.b64encode(PNG).decode()}]
    path = thread.rollout_path
    assert path is not None
    events = [json.loads(line)["payload"] for line in path.read_text().splitlines()]
    assert [(e["path"]) for e in events if e.get("type") == "view_image_tool_call"] == [
        str(workspace / "shot.png")]
