"""A real MCP server built with the SDK, run as its own process by the MCP tests.

``python calc_server.py stdio`` or ``python calc_server.py http PORT`` (loopback only).
``CALC_START_DELAY`` (seconds) delays its start, ``CALC_ENV_FILE`` is where the ``env``
tool writes the environment the server got. ``CALC_STDERR`` is a line it writes to its
stderr as it starts; with ``CALC_CRASH_AT_START`` set it then exits (status 2) at once.

Tools: ``add`` (no annotations), ``peek`` (read-only), ``fail`` (a tool error), ``crash``
(the process exits mid-call), ``hang`` (never answers), ``env`` (writes its environment),
``launch`` (asks the user a question first), ``signup`` (asks the user to fill in a form
of a string, an integer, a choice and a boolean, and says what came back).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Annotated, Literal

from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Elicit, MCPServer, Resolve
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

server = MCPServer("calc", instructions="A tiny calculator.")


@server.tool(description="Add two integers and return the sum.")
def add(a: int, b: int) -> int:
    return a + b


@server.tool(description="Read a number without changing anything.",
             annotations=ToolAnnotations(read_only_hint=True))
def peek() -> str:
    return "42"


@server.tool(description="Always fails.")
def fail(reason: str) -> str:
    raise ValueError(f"cannot do that: {reason}")


@server.tool(description="Exits the server in the middle of the call.")
def crash() -> str:
    os._exit(3)


@server.tool(description="Never answers.")
def hang() -> str:
    time.sleep(3600)
    return "late"


@server.tool(description="Writes the server's environment to CALC_ENV_FILE.")
def env() -> str:
    with open(os.environ["CALC_ENV_FILE"], "w", encoding="utf-8") as out:
        json.dump({"env": dict(os.environ), "cwd": os.getcwd()}, out)
    return "written"


class Go(BaseModel):
    """A yes-or-no question: nothing to fill in."""


def _ask_go() -> Elicit[Go]:
    return Elicit("Launch the rocket?", Go)


@server.tool(description="Asks the user before launching; says what they answered.")
def launch(answer: Annotated[ElicitationResult[Go], Resolve(_ask_go)]) -> str:
    return f"answer: {answer.action}"


class Signup(BaseModel):
    """A form: one field of each primitive type."""

    name: str = Field(title="Name", description="What to call you", min_length=1)
    age: int = Field(title="Age", ge=0, le=150)
    color: Literal["red", "green", "blue"] = Field(title="Favourite colour")
    newsletter: bool = Field(default=False, title="Newsletter")


def _ask_signup() -> Elicit[Signup]:
    return Elicit("Sign up for the launch", Signup)


@server.tool(description="Asks the user to fill in a form; says what came back.")
def signup(answer: Annotated[ElicitationResult[Signup], Resolve(_ask_signup)]) -> str:
    if answer.action == "accept":
        return f"accept: {answer.data.model_dump_json()}"
    return f"answer: {answer.action}"


def main() -> None:
    time.sleep(float(os.environ.get("CALC_START_DELAY", "0")))
    if os.environ.get("CALC_STDERR"):
        print(os.environ["CALC_STDERR"], file=sys.stderr, flush=True)
    if os.environ.get("CALC_CRASH_AT_START"):
        sys.exit(2)
    if sys.argv[1] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()
