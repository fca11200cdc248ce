"""Codex 0.169's app-server JSON schema, for validating what llmx sends.

``tests/fixtures/codex-app-server-schema/`` holds the bundle ``codex app-server
generate-json-schema --experimental`` wrote; every definition (``ServerNotification``,
``ServerRequest``, each ``v2`` response) is checked from it with a Draft 7 validator.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BUNDLE = FIXTURES / "codex-app-server-schema" / "codex_app_server_protocol.schemas.json"


@functools.cache
def _definitions() -> dict[str, Any]:
    definitions: dict[str, Any] = json.loads(BUNDLE.read_text(encoding="utf-8"))["definitions"]
    return definitions


@functools.cache
def _validator(pointer: str) -> jsonschema.Draft7Validator:
    schema = {"$ref": pointer, "definitions": _definitions()}
    return jsonschema.Draft7Validator(schema)


def client_methods() -> list[str]:
    """Every client request method of the schema, in its order."""
    return [branch["properties"]["method"]["enum"][0]
            for branch in _definitions()["ClientRequest"]["oneOf"]]


@functools.cache
def _response_pointers() -> dict[str, str]:
    pointers: dict[str, str] = {}
    for branch in _definitions()["ClientRequest"]["oneOf"]:
        method = branch["properties"]["method"]["enum"][0]
        params = branch["properties"].get("params", {}).get("$ref")
        if params is None or not params.endswith("Params"):
            continue
        name = params.removesuffix("Params") + "Response"
        holder: Any = _definitions()
        for part in name.removeprefix("#/definitions/").split("/"):
            holder = holder.get(part) if isinstance(holder, dict) else None
        if holder is not None:
            pointers[method] = name
    # Served beyond 0.169's schema: Codex's earlier ``thread/rollback`` answers
    # ``{thread}``, the shape 0.169 keeps for ``thread/revert`` (its cursors optional).
    pointers.setdefault("thread/rollback", pointers["thread/revert"])
    return pointers


def _check(pointer: str, instance: Any, what: str) -> None:
    errors = sorted(_validator(pointer).iter_errors(instance), key=lambda e: e.path)
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        raise AssertionError(
            f"{what} does not validate against {pointer}: {best.message} "
            f"at {list(best.absolute_path)}\n{json.dumps(instance)[:2000]}"
        )


def check_notification(message: dict[str, Any]) -> None:
    body = {key: message[key] for key in ("method", "params") if key in message}
    _check("#/definitions/ServerNotification", body, f"notification {message.get('method')}")


def check_server_request(message: dict[str, Any]) -> None:
    _check("#/definitions/ServerRequest", message, f"server request {message.get('method')}")


def check_response(method: str, result: Any) -> None:
    pointer = _response_pointers().get(method)
    assert pointer is not None, f"the schema has no response type for {method}"
    _check(pointer, result, f"result of {method}")


def check_error(message: dict[str, Any]) -> None:
    _check("#/definitions/JSONRPCError", message, "error response")


def check_server_message(message: dict[str, Any], requests: dict[Any, str]) -> None:
    """Validate one line the server wrote; ``requests`` maps the client's request ids to
    their methods (to pick the response type)."""
    assert "jsonrpc" not in message, message
    if "method" in message and "id" in message:
        check_server_request(message)
    elif "method" in message:
        check_notification(message)
    elif "error" in message:
        check_error(message)
    else:
        method = requests.get(message.get("id"))
        assert method is not None, f"a response to no request: {message}"
        check_response(method, message["result"])
