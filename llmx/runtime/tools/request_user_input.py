"""``request_user_input``: the model asks the user one to three short questions.

As in Codex 0.169: only in Plan mode (see ``llmx.runtime.collaboration``); in any other
mode the model is told the tool is unavailable, and nobody is asked. Every question must
come with options; the frontend adds a free-form answer of its own (``isOther``). The
questions go out as a ``request_user_input`` event and the turn waits for the
``user_input_answer`` op naming it, which the log holds (with who answered) before the
model sees the answers: ``{"answers": {question_id: {"answers": [...]}}}``.

As Codex 0.169 does, the answers the user gave are also kept outside the model's history,
before the call's output: a ``retained_context`` line (``verified_answer``) with each
answered question (its text, then each chosen option's ``label: description``) and its
non-blank answers, one per line. A reply with no answer writes none.
"""

from __future__ import annotations

import json

import msgspec

from llmx.events.event_msgs import RequestUserInputQuestion
from llmx.events.nesting import check_nesting
from llmx.events.ops import user_input_answers
from llmx.events.records import RetainedVerifiedAnswer, VerifiedQuestionAnswer
from llmx.runtime.tool_context import ToolContext


class _Arguments(msgspec.Struct):
    questions: list[RequestUserInputQuestion]


async def request_user_input(tools: ToolContext, call_id: str, arguments: str) -> str:
    mode = tools.settings.collaboration
    if not mode.asks_user:
        return f"request_user_input is unavailable in {mode.display_name} mode"
    try:
        check_nesting(arguments)
        questions = msgspec.json.decode(arguments or "{}", type=_Arguments).questions
    except (ValueError, msgspec.DecodeError) as exc:
        return f"failed to parse function arguments: {exc}"
    if any(not question.options for question in questions):
        return "request_user_input requires non-empty options for every question"
    for question in questions:
        question.is_other = True
    reply = await tools.ask_user(call_id, questions)
    answers = user_input_answers(reply.response)
    verified = verified_answers(questions, answers)
    if verified:
        await tools.record(RetainedVerifiedAnswer(turn_id=tools.turn_id, call_id=call_id,
                                                  questions=verified))
    return json.dumps({"answers": {qid: {"answers": given} for qid, given in answers.items()}},
                      separators=(",", ":"), ensure_ascii=False)



def verified_answers(questions: list[RequestUserInputQuestion],
                     answers: dict[str, list[str]]) -> list[VerifiedQuestionAnswer]:
    """The answered questions as Codex retains them (see the module's text)."""
    found: list[VerifiedQuestionAnswer] = []
    for question in questions:
        given = [text for text in answers.get(question.id, ()) if text.strip()]
        if not given:
            continue
        text = question.question
        for option in question.options or ():
            if option.label in answers[question.id]:
                text += f"\n{option.label}: {option.description}"
        found.append(VerifiedQuestionAnswer(question=text, answer="\n".join(given)))
    return found
