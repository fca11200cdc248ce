"""A resumed history of ``msgspec.Raw`` items goes into request bodies as its dict form would."""

from __future__ import annotations

from pathlib import Path

import msgspec
from support import CODEX_FIXTURES

from llmx.projections.resume import fold_resume, fold_resume_raw, prompt_input, prompt_input_raw
from llmx.runtime.models.chat import build_chat_body
from llmx.runtime.models.request import ModelRequest, RequestIdentity
from llmx.runtime.models.responses import build_responses_body

ROLLOUT = CODEX_FIXTURES / "rollouts" / (
    "exec_json_shell_workspace_write_then_resume_last_again.rollout.jsonl"
)


def _requests(path: Path) -> tuple[ModelRequest, ModelRequest]:
    identity = RequestIdentity(thread_id="01a1fc90-b7a5-70e1-a144-262ede99cc4e")
    as_dicts = prompt_input(fold_resume(path).history)
    as_raw = prompt_input_raw(fold_resume_raw(path).history)
    return (ModelRequest(model="mock-model", input=as_dicts, identity=identity),
            ModelRequest(model="mock-model", input=as_raw, identity=identity))


def test_responses_body_splices_raw_items() -> None:
    from_dicts, from_raw = _requests(ROLLOUT)
    raw_body = build_responses_body(from_raw)
    # Kept as Raw in the body; the client's msgspec encoder writes the recorded bytes.
    assert all(isinstance(item, msgspec.Raw) for item in raw_body["input"])
    encoded = msgspec.json.encode(raw_body)
    assert msgspec.json.decode(encoded) == msgspec.json.decode(
        msgspec.json.encode(build_responses_body(from_dicts)))
    assert b"internal_chat_message_metadata_passthrough" not in encoded


def test_chat_body_decodes_raw_items() -> None:
    from_dicts, from_raw = _requests(ROLLOUT)
    assert build_chat_body(from_raw) == build_chat_body(from_dicts)
