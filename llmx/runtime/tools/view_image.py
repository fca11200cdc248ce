"""``view_image``: a local image the model asks to see, attached to its next request.

As Codex does: the path is resolved against the turn's directory, the call's output says
the image was attached, a ``view_image_tool_call`` event names the file, and the image
itself follows the output as a user message with an ``input_image`` (a data URL), so the
next request carries it. The sandbox's read rules hold: a path the command sandbox could
not read is refused, as a command reading it would be.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

from llmx.events.event_msgs import ViewImageToolCall
from llmx.runtime.tool_context import ToolContext

# Leading bytes of the formats the model APIs take.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
# The largest file attached (the model APIs refuse larger images).
MAX_IMAGE_BYTES = 20 * 1024 * 1024


def image_mime(data: bytes) -> str | None:
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


async def view_image(tools: ToolContext, call_id: str, arguments: str) -> str:
    """Run one call; the text of its output (the image is queued on ``tools``)."""
    try:
        args = json.loads(arguments or "{}")
        raw_path = str(args["path"])
    except (ValueError, KeyError, TypeError) as exc:
        return f"failed to parse function arguments: {exc}"
    path = tools.settings.cwd / raw_path
    refusal = tools.settings.sandbox.read_refusal(path)
    if refusal is not None:
        return f"unable to read image at `{path}`: {refusal}"
    loaded = await asyncio.to_thread(_load, path)
    if isinstance(loaded, str):
        return loaded
    mime, data = loaded
    await tools.record(ViewImageToolCall(call_id=call_id, path=str(path)))
    url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    tools.pending_input.append({"type": "message", "role": "user",
                                "content": [{"type": "input_image", "image_url": url}]})
    return "attached local image path"


def _load(path: Path) -> tuple[str, bytes] | str:
    """``(mime type, bytes)`` of the image at ``path``, or what the model is told."""
    try:
        if not path.is_file():
            if path.exists():
                return f"image path `{path}` is not a file"
            return f"unable to locate image at `{path}`: No such file or directory"
        if path.stat().st_size > MAX_IMAGE_BYTES:
            return f"image at `{path}` is larger than {MAX_IMAGE_BYTES} bytes"
        data = path.read_bytes()
    except OSError as exc:
        return f"unable to locate image at `{path}`: {exc.strerror or exc}"
    mime = image_mime(data)
    if mime is None:
        return f"`{path}` is not a PNG, JPEG, GIF or WebP image"
    return mime, data
