"""Collaboration modes, as Codex 0.169 has them: Default and Plan.

A mode is a setting of the turn (``user_turn``'s ``collaboration_mode``: the app-server's
``turn/start`` ``collaborationMode``, the TUI's Shift+Tab) that the thread keeps for the
turns after it. It changes what the model is told (a ``<collaboration_mode>`` developer
message, when a thread starts in Plan mode or whenever the mode changes) and one tool:
``request_user_input`` asks the user only in Plan mode; in Default mode it answers that it
is unavailable, which is all ``llmx exec`` ever gets (nobody is there to answer).
Each turn's ``turn_context`` records the mode as Codex records it, and a resumed or forked
thread goes on in the mode its last turn ran in, as in Codex (whose ``exec resume`` of a
Plan-mode thread stays in Plan mode; nobody being there, the questions get no answers).
"""

from __future__ import annotations

from typing import Any

import msgspec

from llmx.runtime.instructions import developer_message

DEFAULT = "default"
PLAN = "plan"
_NAMES = {DEFAULT: "Default", PLAN: "Plan"}

PLAN_INSTRUCTIONS = """\
# Plan mode

You are in Plan mode until a later <collaboration_mode> message says otherwise; nothing the \
user writes changes the mode by itself. A request to do the work is, in this mode, a \
request to plan it.

In Plan mode you and the user settle a plan precise enough that someone else could carry it \
out without making a single decision. You do not carry it out: do not edit or create files, \
apply patches, or run commands meant to change the workspace. Reading, searching and \
commands that only look (tests and builds included, as long as no tracked file changes) are \
expected.

1. Look first. Learn from the workspace whatever it can tell you before you ask anything.
2. Ask only what the workspace cannot answer, with the `request_user_input` tool: one to \
three short questions, each with two or three concrete options, the one you recommend first \
and marked "(Recommended)". Say in one sentence why you ask before you call it. If it comes \
back without answers, decide yourself and say what you assumed.
3. When nothing is left open, write the plan in a <proposed_plan> block: the goal, the \
changes file by file, how they will be tested, and the risks. When the user asks for \
changes, answer, then give the whole revised plan again.
"""

DEFAULT_INSTRUCTIONS = """\
# Default mode

You are in Default mode now: whatever an earlier mode (Plan mode among them) asked of you no \
longer applies. Only a later <collaboration_mode> message changes the mode.

Carry out the user's request. Where something is unclear, make a reasonable assumption, say \
which, and go on. The `request_user_input` tool does not ask anyone in this mode: if you \
truly cannot go on without the user, ask one short question in plain text and end the turn.
"""

_BUILT_IN = {DEFAULT: DEFAULT_INSTRUCTIONS, PLAN: PLAN_INSTRUCTIONS}


class CollaborationMode(msgspec.Struct, frozen=True):
    """The mode of a thread's turns and what the model is told of it."""

    mode: str = DEFAULT
    # The ``<collaboration_mode>`` text: a client's own, or llmx's for the mode. None for a
    # thread that never changed mode (nothing was said, as in Codex's exec).
    instructions: str | None = None

    @property
    def display_name(self) -> str:
        return _NAMES.get(self.mode, self.mode.title())

    @property
    def asks_user(self) -> bool:
        """Whether ``request_user_input`` may ask the user."""
        return self.mode == PLAN

    def recorded(self, model: str, effort: str | None) -> dict[str, Any]:
        """The ``turn_context`` field, in Codex's shape."""
        return {"mode": self.mode,
                "settings": {"model": model, "reasoning_effort": effort,
                             "developer_instructions": self.instructions}}


class RequestedMode(msgspec.Struct, frozen=True):
    """A turn's ``collaboration_mode``: the mode, and the model and effort it brings (a
    mode's settings take precedence over the turn's own, as in Codex)."""

    mode: CollaborationMode
    model: str | None
    effort: str | None


def requested_mode(value: Any) -> RequestedMode:
    """Read a ``user_turn``'s ``collaboration_mode``; ValueError names what is wrong."""
    if not isinstance(value, dict):
        raise ValueError("collaboration_mode must be an object with mode and settings")
    mode = value.get("mode")
    if mode not in _BUILT_IN:
        raise ValueError(f"unknown collaboration mode {mode!r} (known: default, plan)")
    settings = value.get("settings")
    settings = settings if isinstance(settings, dict) else {}
    text = settings.get("developer_instructions")
    model = settings.get("model")
    effort = settings.get("reasoning_effort")
    return RequestedMode(
        CollaborationMode(mode, text if isinstance(text, str) and text.strip()
                          else _BUILT_IN[mode]),
        model if isinstance(model, str) and model else None,
        effort if isinstance(effort, str) and effort else None,
    )


def switch_to(mode: str) -> dict[str, Any]:
    """The ``collaboration_mode`` a frontend puts on a ``user_turn`` to switch to ``mode``
    with llmx's own instructions and the thread's model."""
    return {"mode": mode, "settings": {"developer_instructions": None}}


def recorded_mode(turn_context: dict[str, Any]) -> CollaborationMode | None:
    """The mode a recorded ``turn_context`` ran in, with what the model was told of it
    (None if it does not say, or names a mode llmx does not have)."""
    value = turn_context.get("collaboration_mode")
    if not isinstance(value, dict) or value.get("mode") not in _BUILT_IN:
        return None
    settings = value.get("settings")
    text = settings.get("developer_instructions") if isinstance(settings, dict) else None
    return CollaborationMode(str(value["mode"]), text if isinstance(text, str) else None)


def mode_message(mode: CollaborationMode) -> dict[str, Any]:
    """What tells the model the mode it is in now."""
    text = mode.instructions if mode.instructions is not None else _BUILT_IN.get(
        mode.mode, DEFAULT_INSTRUCTIONS)
    return developer_message(f"<collaboration_mode>{text}</collaboration_mode>")
