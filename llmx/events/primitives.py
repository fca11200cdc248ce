"""Small value types shared by several payloads (durations, token usage, user input)."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, Struct, UnsetType

# Field conventions, used by every schema module:
# - ``X | UnsetType = UNSET``: Codex's skip-if-none fields; omitted from the JSON when unset.
# - ``X | None = None``: Codex's plain ``Option`` fields; written as ``null`` when empty.
# Typed decoding ignores fields it does not know; the raw line keeps them.


class Duration(Struct):
    """serde's form of ``std::time::Duration``: ``{"secs": 1, "nanos": 250000000}``."""

    secs: int = 0
    nanos: int = 0

    @classmethod
    def from_seconds(cls, seconds: float) -> Duration:
        whole = int(seconds)
        return cls(secs=whole, nanos=round((seconds - whole) * 1_000_000_000))

    def total_seconds(self) -> float:
        return self.secs + self.nanos / 1_000_000_000


class TokenUsage(Struct):
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0
    total_tokens: int = 0
    cache_write_input_tokens: int | UnsetType = UNSET


class ByteRange(Struct):
    start: int
    end: int


class TextElement(Struct):
    byte_range: ByteRange
    placeholder: str | UnsetType = UNSET


class UserInputBase(Struct, tag_field="type"):
    """What a user submits: text, images, skills (``UserInput`` in Codex)."""


class TextInput(UserInputBase, tag="text"):
    text: str
    text_elements: list[TextElement] = msgspec.field(default_factory=list)


class ImageInput(UserInputBase, tag="image"):
    image_url: str
    detail: str | UnsetType = UNSET


class LocalImageInput(UserInputBase, tag="local_image"):
    path: str
    detail: str | UnsetType = UNSET


class SkillInput(UserInputBase, tag="skill"):
    name: str
    path: str


UserInput = TextInput | ImageInput | LocalImageInput | SkillInput


class ParsedCommandBase(Struct, tag_field="type"):
    """How Codex summarises a shell command for display (``ParsedCommand``)."""


class ReadCommand(ParsedCommandBase, tag="read"):
    cmd: str
    name: str
    path: str | UnsetType = UNSET


class ListFilesCommand(ParsedCommandBase, tag="list_files"):
    cmd: str
    path: str | None = None


class SearchCommand(ParsedCommandBase, tag="search"):
    cmd: str
    query: str | None = None
    path: str | None = None


class UnknownCommand(ParsedCommandBase, tag="unknown"):
    cmd: str


ParsedCommand = ReadCommand | ListFilesCommand | SearchCommand | UnknownCommand


class FileChangeBase(Struct, tag_field="type"):
    """One path's change in a patch (``FileChange``); a patch maps path strings to these."""


class AddFile(FileChangeBase, tag="add"):
    content: str


class DeleteFile(FileChangeBase, tag="delete"):
    content: str = ""


class UpdateFile(FileChangeBase, tag="update"):
    unified_diff: str
    move_path: str | None = None


FileChange = AddFile | DeleteFile | UpdateFile

# Deep policy and settings objects (sandbox policies, permission profiles, world state)
# are kept as plain JSON values here: ``llmx.events`` knows nothing of sandboxes.
JsonValue = Any
