"""``request_user_input``: the model asks the user one to three short questions.

As in Codex 0.169: only in Plan mode (see ``llmx.runtime.collaboration``); in any other
mode the model is told the tool is unavailable, and nobody is asked. Every question must
come with options; the frontend adds a free-form answer of its own (``isOther``). The
questions go out as a ``request_user_input`` event and the turn waits for the
``user_input_answer`` op naming it, which the log holds (with who answered) before the
model sees the answers: ``{"answers": {question_id: {"answers": [...]}}}``.
"""

from __future__ import annotations

import json

import msgspec

from llmx.events.event_msgs import RequestUserInputQuestion
from llmx.events.nesting import check_nesting
from llmx.events.ops import user_input_answers
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
    return json.dumps({"answers": {qid: {"answers": given} for qid, given in answers.items()}},
                      separators=(",", ":"), ensure_ascii=False)

