"""The tool definitions sent to the model, in the shapes Codex sends them.

``exec_command`` keeps Codex's current schema (``sandbox_permissions``,
``justification``, ``prefix_rule``...), so a model tuned on Codex's tools behaves the same
here. It also offers ``with_additional_permissions`` and ``additional_permissions``, which
Codex offers only with ``features.exec_permission_approvals``: a bounded request is the
better escalation, and llmx enforces it. apply_patch is a freeform (``custom``) tool on
the Responses API; the Chat Completions API has no freeform tools, so there it is a
function taking ``input``. Which tools a model gets is its catalog entry's
(``llmx.runtime.model_families``); there is no ``update_plan``: Codex 0.169 offers it to
no model, and answers a call of it as it answers any tool it did not offer.
"""

from __future__ import annotations

import enum
from typing import Any

from llmx.runtime.model_families import ModelFamily

EXEC_COMMAND = "exec_command"
APPLY_PATCH = "apply_patch"


class WireApi(enum.Enum):
    """Which model API the tool list is for."""

    # OpenAI Responses API: function and custom (freeform) tools.
    RESPONSES = "responses"
    # Chat Completions: function tools only, nested under ``function``.
    CHAT = "chat"


def _string(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


EXEC_COMMAND_SPEC: dict[str, Any] = {
    "type": "function",
    "name": EXEC_COMMAND,
    "description": (
        "Runs a command in a PTY, returning output or a session ID for ongoing interaction."
    ),
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "cmd": _string("Shell command to execute."),
            "justification": _string(
                "User-facing approval question for `require_escalated`; omit otherwise."
            ),
            "login": {
                "type": "boolean",
                "description": "True runs the shell with -l/-i semantics; false disables them. "
                "Defaults to true.",
            },
            "max_output_tokens": {
                "type": "number",
                "description": "Output token budget. Defaults to 10000 tokens; larger requests "
                "may be capped by policy.",
            },
            "prefix_rule": {
                "type": "array",
                "description": "Reusable approval prefix for `cmd`, only with "
                '`sandbox_permissions: "require_escalated"`; for example ["git", "pull"].',
                "items": {"type": "string"},
            },
            "sandbox_permissions": {
                "type": "string",
                "description": "Per-command sandbox override. Defaults to `use_default`. Prefer "
                "`with_additional_permissions` (listed in `additional_permissions`) when the "
                "command needs a few more paths or the network; `require_escalated` runs it "
                "without the sandbox.",
                "enum": ["use_default", "with_additional_permissions", "require_escalated"],
            },
            "additional_permissions": {
                "type": "object",
                "description": "Only with `with_additional_permissions`: what the command needs "
                "beyond the sandbox; it stays sandboxed with exactly these added.",
                "properties": {
                    "network": {
                        "type": "object",
                        "properties": {"enabled": {
                            "type": "boolean", "description": "True to allow network access.",
                        }},
                        "additionalProperties": False,
                    },
                    "file_system": {
                        "type": "object",
                        "properties": {
                            "read": {"type": "array", "items": {"type": "string"},
                                     "description": "Absolute paths to make readable."},
                            "write": {"type": "array", "items": {"type": "string"},
                                      "description": "Absolute paths to make writable."},
                        },
                        "additionalProperties": False,
                    },
                },
                "additionalProperties": False,
            },
            "shell": _string("Shell binary to launch. Defaults to the user's default shell."),
            "tty": {
                "type": "boolean",
                "description": "True allocates a PTY for the command; false or omitted uses "
                "plain pipes.",
            },
            "workdir": _string("Working directory for the command. Defaults to the turn cwd."),
            "yield_time_ms": {
                "type": "number",
                "description": "Wait before yielding output. Defaults to 10000 ms; effective "
                "range is 250-30000 ms.",
            },
        },
        "required": ["cmd"],
        "additionalProperties": False,
    },
}

APPLY_PATCH_GRAMMAR = """start: begin_patch hunk+ end_patch
begin_patch: "*** Begin Patch" LF
end_patch: "*** End Patch" LF?

hunk: add_hunk | delete_hunk | update_hunk
add_hunk: "*** Add File: " filename LF add_line+
delete_hunk: "*** Delete File: " filename LF
update_hunk: "*** Update File: " filename LF change_move? change?

filename: /(.+)/
add_line: "+" /(.*)/ LF -> line

change_move: "*** Move to: " filename LF
change: (change_context | change_line)+ eof_line?
change_context: ("@@" | "@@ " /(.+)/) LF
change_line: ("+" | "-" | " ") /(.*)/ LF
eof_line: "*** End of File" LF

%import common.LF
"""

APPLY_PATCH_SPEC: dict[str, Any] = {
    "type": "custom",
    "name": APPLY_PATCH,
    "description": "The `apply_patch` tool can be used to edit files. This is a FREEFORM tool, "
    "so do not wrap the patch in JSON.",
    "format": {"type": "grammar", "syntax": "lark", "definition": APPLY_PATCH_GRAMMAR},
}

# The function form, for APIs without freeform tools.
APPLY_PATCH_FUNCTION_SPEC: dict[str, Any] = {
    "type": "function",
    "name": APPLY_PATCH,
    "description": "Use the `apply_patch` tool to edit files. The input is the whole patch, "
    "from `*** Begin Patch` to `*** End Patch`, with `*** Add File:`, `*** Delete File:` and "
    "`*** Update File:` (optionally `*** Move to:`) sections; update sections hold `@@` "
    "context headers and lines starting with ' ', '-' or '+'. Paths are relative to the "
    "working directory.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {"input": _string("The entire contents of the apply_patch command")},
        "required": ["input"],
        "additionalProperties": False,
    },
}


VIEW_IMAGE = "view_image"

# view_image: Codex 0.169's definition, as its requests carry it.
VIEW_IMAGE_SPEC: dict[str, Any] = {
    "type": "function",
    "name": VIEW_IMAGE,
    "description": "View a local image file from the filesystem when visual inspection is "
    "needed. Use this for images already available on disk.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "Local filesystem path to an image file."},
        },
        "required": ["path"],
        "additionalProperties": False,
    },
}


WRITE_STDIN = "write_stdin"

# write_stdin: Codex 0.169's definition, as its requests carry it.
WRITE_STDIN_SPEC: dict[str, Any] = {
    "type": "function",
    "name": WRITE_STDIN,
    "description": "Writes characters to an existing unified exec session and returns recent "
    "output.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "chars": _string("Bytes to write to stdin. Defaults to empty, which polls without "
                             "writing."),
            "max_output_tokens": {
                "type": "number",
                "description": "Output token budget. Defaults to 10000 tokens; larger requests "
                "may be capped by policy.",
            },
            "session_id": {"type": "number",
                           "description": "Identifier of the running unified exec session."},
            "yield_time_ms": {
                "type": "number",
                "description": "Wait before yielding output. Non-empty writes default to 250 ms "
                "and cap at 30000 ms; empty polls wait 5000-300000 ms by default.",
            },
        },
        "required": ["session_id"],
        "additionalProperties": False,
    },
}


REQUEST_USER_INPUT = "request_user_input"

# request_user_input: Codex 0.169's definition, as its requests carry it. The options are
# required: the frontend adds the free-form choice itself.
REQUEST_USER_INPUT_SPEC: dict[str, Any] = {
    "type": "function",
    "name": REQUEST_USER_INPUT,
    "description": "Request user input for one to three short questions and wait for the "
    "response. This tool is only available in Plan mode.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "questions": {
                "type": "array",
                "description": "Questions to show the user. Prefer 1 and do not exceed 3",
                "items": {
                    "type": "object",
                    "properties": {
                        "header": _string("Short header label shown in the UI (12 or fewer "
                                          "chars)."),
                        "id": _string("Stable identifier for mapping answers (snake_case)."),
                        "options": {
                            "type": "array",
                            "description": "Provide 2-3 mutually exclusive choices. Put the "
                            "recommended option first and suffix its label with "
                            "\"(Recommended)\". Do not include an \"Other\" option in this "
                            "list; the client will add a free-form \"Other\" option "
                            "automatically.",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "description": _string("One short sentence explaining "
                                                           "impact/tradeoff if selected."),
                                    "label": _string("User-facing label (1-5 words)."),
                                },
                                "required": ["label", "description"],
                                "additionalProperties": False,
                            },
                        },
                        "question": _string("Single-sentence prompt shown to the user."),
                    },
                    "required": ["id", "header", "question", "options"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["questions"],
        "additionalProperties": False,
    },
}


def tool_specs(wire: WireApi, family: ModelFamily, *,
               web_search: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The tools offered to a model of ``family`` on ``wire``, in Codex 0.169's order:
    the shell tools (unless the model has none), request_user_input, apply_patch (only to
    a model its catalog entry gives it), view_image, and ``web_search`` (the provider's own
    search, run on its side), which goes only to the Responses API: Chat Completions has
    no such tool, nor freeform tools (apply_patch is a function there)."""
    specs: list[dict[str, Any]] = []
    if family.shell:
        specs += [EXEC_COMMAND_SPEC, WRITE_STDIN_SPEC]
    specs.append(REQUEST_USER_INPUT_SPEC)
    if family.apply_patch:
        specs.append(APPLY_PATCH_SPEC if wire is WireApi.RESPONSES else APPLY_PATCH_FUNCTION_SPEC)
    specs.append(VIEW_IMAGE_SPEC)
    if wire is WireApi.RESPONSES:
        return specs if web_search is None else [*specs, web_search]
    return [{"type": "function", "function": _chat_function(spec)} for spec in specs]


def _chat_function(spec: dict[str, Any]) -> dict[str, Any]:
    return {key: spec[key] for key in ("name", "description", "parameters")}
