"""``Op`` and ``Submission``: what a client asks of the agent (spec 1.2).

llmx writes every submission to the rollout on a ``submission`` line of its own before
the runtime acts on it (write-ahead); Codex's reader skips that line type.
"""

from __future__ import annotations

import enum

from msgspec import UNSET, Struct, UnsetType

from llmx.events.primitives import JsonValue, UserInput


class ReviewDecision(enum.StrEnum):
    """The plain answers to an approval request.

    Codex also has object-shaped decisions (``{"approved_execpolicy_amendment": ...}``,
    ``{"network_policy_amendment": ...}``); :data:`Decision` admits both.
    """

    APPROVED = "approved"
    # Approved, and the same command is approved for the rest of the session.
    APPROVED_FOR_SESSION = "approved_for_session"
    DENIED = "denied"
    # Denied, and the whole turn is interrupted.
    ABORT = "abort"


Decision = str | dict[str, JsonValue]

# Codex's object-shaped approval: the command runs, and the client asks that commands
# matching ``proposed_execpolicy_amendment`` be allowed from now on.
EXECPOLICY_AMENDMENT = "approved_execpolicy_amendment"


def plain_decision(decision: Decision) -> str:
    """The plain decision a recorded one amounts to: an approval with an exec-policy
    amendment approves; any other object form is not one llmx carries out, and refuses."""
    if isinstance(decision, str):
        return decision
    if set(decision) == {EXECPOLICY_AMENDMENT}:
        return ReviewDecision.APPROVED.value
    return ReviewDecision.DENIED.value


class OpBase(Struct, tag_field="type"):
    """Base of every ``Op`` variant."""


class Interrupt(OpBase, tag="interrupt"):
    pass


class UserInputOp(OpBase, tag="user_input"):
    items: list[UserInput]
    final_output_json_schema: JsonValue | UnsetType = UNSET


class UserTurn(OpBase, tag="user_turn"):
    items: list[UserInput]
    cwd: str
    approval_policy: str
    sandbox_policy: JsonValue
    model: str
    summary: str = "auto"
    effort: str | UnsetType = UNSET
    final_output_json_schema: JsonValue = None
    # ``{"mode": "default" | "plan", "settings": {"model", "reasoning_effort",
    # "developer_instructions"}}``: the turn's collaboration mode (and the thread's after it).
    collaboration_mode: JsonValue | UnsetType = UNSET


class OverrideTurnContext(OpBase, tag="override_turn_context"):
    cwd: str | UnsetType = UNSET
    approval_policy: str | UnsetType = UNSET
    sandbox_policy: JsonValue | UnsetType = UNSET
    model: str | UnsetType = UNSET
    effort: str | UnsetType | None = UNSET
    summary: str | UnsetType = UNSET


class ExecApproval(OpBase, tag="exec_approval"):
    """The answer to ``exec_approval_request``; ``id`` is its ``approval_id`` or ``call_id``."""

    id: str
    decision: Decision
    turn_id: str | UnsetType = UNSET


class PatchApproval(OpBase, tag="patch_approval"):
    id: str
    decision: Decision


class UserInputAnswer(OpBase, tag="user_input_answer"):
    """The answer to ``request_user_input``; ``id`` is the turn that asked, ``response``
    ``{"answers": {question_id: {"answers": [str, ...]}}}``."""

    id: str
    response: JsonValue


def user_input_answers(response: JsonValue) -> dict[str, list[str]]:
    """The answers a ``user_input_answer``'s ``response`` holds: question id to answer
    strings. Anything else in it (a client's ``{}``, a malformed entry) is no answer."""
    answers = response.get("answers") if isinstance(response, dict) else None
    if not isinstance(answers, dict):
        return {}
    found: dict[str, list[str]] = {}
    for qid, entry in answers.items():
        given = entry.get("answers") if isinstance(entry, dict) else None
        if isinstance(given, list):
            found[str(qid)] = [text for text in given if isinstance(text, str)]
    return found


class ResolveElicitation(OpBase, tag="resolve_elicitation"):
    server_name: str
    request_id: JsonValue
    decision: str  # accept | decline | cancel
    # The filled-in form of an accepted form elicitation (Codex's ``content``).
    content: JsonValue | UnsetType = UNSET


class AddToHistory(OpBase, tag="add_to_history"):
    text: str


class Compact(OpBase, tag="compact"):
    pass


class Undo(OpBase, tag="undo"):
    pass


class ThreadRollback(OpBase, tag="thread_rollback", omit_defaults=True):
    num_turns: int
    # llmx: also undo the patches those turns applied (all or nothing); never what their
    # shell commands did. Codex's op has no such field.
    revert_files: bool = False


class Review(OpBase, tag="review"):
    review_request: JsonValue


class RunUserShellCommand(OpBase, tag="run_user_shell_command"):
    command: str


class SetThreadName(OpBase, tag="set_thread_name"):
    """Name the thread (Codex's ``/rename``); the name goes to the thread-name log."""

    name: str


class Shutdown(OpBase, tag="shutdown"):
    pass


Op = (
    Interrupt
    | UserInputOp
    | UserTurn
    | OverrideTurnContext
    | ExecApproval
    | PatchApproval
    | UserInputAnswer
    | ResolveElicitation
    | AddToHistory
    | Compact
    | Undo
    | ThreadRollback
    | Review
    | RunUserShellCommand
    | SetThreadName
    | Shutdown
)
