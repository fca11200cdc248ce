"""``ResponseItem``: the model-context items of ``response_item`` lines (spec 1.6)."""

from __future__ import annotations

from msgspec import UNSET, Struct, UnsetType

from llmx.events.primitives import JsonValue


class ContentItemBase(Struct, tag_field="type"):
    """A part of a message's ``content``."""


class InputText(ContentItemBase, tag="input_text"):
    text: str


class InputImage(ContentItemBase, tag="input_image"):
    image_url: str
    detail: str | UnsetType = UNSET


class OutputText(ContentItemBase, tag="output_text"):
    text: str


ContentItem = InputText | InputImage | OutputText


class SummaryText(Struct, tag_field="type", tag="summary_text"):
    text: str


class ReasoningTextBase(Struct, tag_field="type"):
    """A raw reasoning part; Codex accepts both spellings."""


class ReasoningText(ReasoningTextBase, tag="reasoning_text"):
    text: str


class PlainReasoningText(ReasoningTextBase, tag="text"):
    text: str


class ResponseItemBase(Struct, tag_field="type"):
    """Base of every ``ResponseItem`` variant.

    Codex 0.169 writes an ``id`` on most items although older builds never serialised
    it; it is optional here for both.
    """


class Message(ResponseItemBase, tag="message"):
    role: str
    content: list[ContentItem]
    id: str | UnsetType = UNSET
    status: str | UnsetType = UNSET
    end_turn: bool | UnsetType = UNSET
    phase: str | UnsetType = UNSET

    def text(self) -> str:
        """The concatenated text parts (images are skipped)."""
        return "".join(
            part.text for part in self.content if isinstance(part, InputText | OutputText)
        )


class Reasoning(ResponseItemBase, tag="reasoning"):
    summary: list[SummaryText]
    id: str | UnsetType = UNSET
    content: list[ReasoningText | PlainReasoningText] | None = None
    encrypted_content: str | None = None


class LocalShellCall(ResponseItemBase, tag="local_shell_call"):
    status: str
    action: JsonValue
    call_id: str | None = None
    id: str | UnsetType = UNSET


class FunctionCall(ResponseItemBase, tag="function_call"):
    name: str
    arguments: str
    call_id: str
    id: str | UnsetType = UNSET
    status: str | UnsetType = UNSET
    namespace: str | UnsetType = UNSET


FunctionOutput = str | list[ContentItem]


class FunctionCallOutput(ResponseItemBase, tag="function_call_output"):
    call_id: str
    output: FunctionOutput
    id: str | UnsetType = UNSET


class CustomToolCall(ResponseItemBase, tag="custom_tool_call"):
    call_id: str
    name: str
    input: str
    id: str | UnsetType = UNSET
    status: str | UnsetType = UNSET


class CustomToolCallOutput(ResponseItemBase, tag="custom_tool_call_output"):
    call_id: str
    output: FunctionOutput
    id: str | UnsetType = UNSET


class WebSearchCall(ResponseItemBase, tag="web_search_call"):
    action: JsonValue = None
    id: str | UnsetType = UNSET
    status: str | UnsetType = UNSET


class GhostSnapshot(ResponseItemBase, tag="ghost_snapshot"):
    ghost_commit: JsonValue


class Compaction(ResponseItemBase, tag="compaction"):
    encrypted_content: str


class CompactionSummary(Compaction, tag="compaction_summary"):
    """The older spelling of :class:`Compaction`."""


ResponseItem = (
    Message
    | Reasoning
    | LocalShellCall
    | FunctionCall
    | FunctionCallOutput
    | CustomToolCall
    | CustomToolCallOutput
    | WebSearchCall
    | GhostSnapshot
    | Compaction
    | CompactionSummary
)


# A partial ``ResponseItem`` (resume's raw history reads these fields of every item).
class ResponseItemHead(Struct):
    """The tag of a ``ResponseItem`` and the fields that pair and filter items: ``role``
    (``Message``) and ``call_id`` (calls and their outputs)."""

    type: str | None = None
    role: str | None = None
    call_id: str | None = None
