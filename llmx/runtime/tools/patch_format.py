"""The apply_patch format: parsing the model's patch text into hunks.

The grammar is Codex's (``*** Begin Patch`` ... ``*** End Patch`` with Add, Delete and
Update hunks, an optional ``*** Move to:``, ``@@`` context headers and ``*** End of File``).
The parser is deliberately lenient where Codex is lenient (a heredoc wrapper around the
patch, surrounding whitespace on the marker lines, a first update chunk without ``@@``),
because models produce those variants and Codex accepts them.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

BEGIN_PATCH = "*** Begin Patch"
END_PATCH = "*** End Patch"
ADD_FILE = "*** Add File: "
DELETE_FILE = "*** Delete File: "
UPDATE_FILE = "*** Update File: "
MOVE_TO = "*** Move to: "
END_OF_FILE = "*** End of File"
CONTEXT_HEADER = "@@ "
EMPTY_CONTEXT_HEADER = "@@"


class PatchParseError(ValueError):
    """The patch text does not follow the apply_patch grammar."""


class UpdateChunk(msgspec.Struct, frozen=True):
    """One ``@@`` section of an update hunk: lines to find and what replaces them."""

    # The ``@@ <context>`` line, used to move the search position forward first.
    change_context: str | None
    old_lines: tuple[str, ...]
    new_lines: tuple[str, ...]
    # ``*** End of File``: the old lines must match at the end of the file.
    is_end_of_file: bool = False


class AddFile(msgspec.Struct, frozen=True):
    path: Path
    content: str


class DeleteFile(msgspec.Struct, frozen=True):
    path: Path


class UpdateFile(msgspec.Struct, frozen=True):
    path: Path
    move_path: Path | None
    chunks: tuple[UpdateChunk, ...]


Hunk = AddFile | DeleteFile | UpdateFile


class _ChunkBuilder(msgspec.Struct):
    change_context: str | None
    old_lines: list[str] = msgspec.field(default_factory=list)
    new_lines: list[str] = msgspec.field(default_factory=list)
    is_end_of_file: bool = False
    has_lines: bool = False

    def build(self) -> UpdateChunk:
        return UpdateChunk(
            self.change_context, tuple(self.old_lines), tuple(self.new_lines), self.is_end_of_file
        )


def parse_patch(text: str) -> list[Hunk]:
    """Parse a whole patch; raise ``PatchParseError`` with Codex's wording on bad input."""
    lines = _strip_heredoc(text.strip().split("\n"))
    if not lines or lines[0].strip() != BEGIN_PATCH:
        raise PatchParseError(
            "Invalid patch: The first line of the patch must be '*** Begin Patch'"
        )
    if len(lines) < 2 or lines[-1].strip() != END_PATCH:
        raise PatchParseError("Invalid patch: The last line of the patch must be '*** End Patch'")
    body = lines[1:-1]
    hunks: list[Hunk] = []
    index = 0
    while index < len(body):
        hunk, consumed = _parse_hunk(body, index)
        hunks.append(hunk)
        index += consumed
    return hunks


def _strip_heredoc(lines: list[str]) -> list[str]:
    # Models sometimes send the patch as it would be typed into a shell: ``<<'EOF' ... EOF``.
    if len(lines) >= 4 and lines[0] in ("<<EOF", "<<'EOF'", '<<"EOF"') and lines[-1].endswith(
        "EOF"
    ):
        return lines[1:-1]
    return lines


def _parse_hunk(lines: list[str], start: int) -> tuple[Hunk, int]:
    # Line numbers in messages count the ``*** Begin Patch`` line as line 1.
    line_number = start + 2
    first = lines[start].strip()
    if first.startswith(ADD_FILE):
        path = Path(first[len(ADD_FILE) :])
        content: list[str] = []
        index = start + 1
        while index < len(lines) and lines[index].startswith("+"):
            content.append(lines[index][1:] + "\n")
            index += 1
        return AddFile(path, "".join(content)), index - start
    if first.startswith(DELETE_FILE):
        return DeleteFile(Path(first[len(DELETE_FILE) :])), 1
    if first.startswith(UPDATE_FILE):
        return _parse_update(lines, start, Path(first[len(UPDATE_FILE) :]), line_number)
    raise PatchParseError(
        f"Invalid patch hunk on line {line_number}: '{first}' is not a valid hunk header. "
        "Valid hunk headers: '*** Add File: {path}', '*** Delete File: {path}', "
        "'*** Update File: {path}'"
    )


def _parse_update(
    lines: list[str], start: int, path: Path, line_number: int
) -> tuple[Hunk, int]:
    index = start + 1
    move_path: Path | None = None
    if index < len(lines) and lines[index].startswith(MOVE_TO):
        move_path = Path(lines[index][len(MOVE_TO) :].strip())
        index += 1
    chunks: list[UpdateChunk] = []
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            # Blank lines between chunks carry no meaning.
            index += 1
            continue
        if line.startswith("***"):
            break
        chunk, consumed = _parse_chunk(lines, index, first_chunk=not chunks)
        chunks.append(chunk)
        index += consumed
    if not chunks:
        raise PatchParseError(
            f"Invalid patch hunk on line {line_number}: Update file hunk for path "
            f"'{path}' is empty"
        )
    return UpdateFile(path, move_path, tuple(chunks)), index - start


def _parse_chunk(lines: list[str], start: int, *, first_chunk: bool) -> tuple[UpdateChunk, int]:
    header = lines[start]
    index = start
    if header == EMPTY_CONTEXT_HEADER:
        builder = _ChunkBuilder(change_context=None)
        index += 1
    elif header.startswith(CONTEXT_HEADER):
        builder = _ChunkBuilder(change_context=header[len(CONTEXT_HEADER) :])
        index += 1
    elif first_chunk:
        # The first chunk may omit its ``@@`` line.
        builder = _ChunkBuilder(change_context=None)
    else:
        raise PatchParseError(
            f"Invalid patch hunk on line {start + 2}: Expected update hunk to start with a "
            f"@@ context marker, got: '{header}'"
        )
    while index < len(lines):
        line = lines[index]
        if line == END_OF_FILE:
            builder.is_end_of_file = True
            index += 1
            break
        if line == "":
            # An empty line inside a chunk is an empty context line whose space was lost.
            builder.old_lines.append("")
            builder.new_lines.append("")
        elif line[0] == " ":
            builder.old_lines.append(line[1:])
            builder.new_lines.append(line[1:])
        elif line[0] == "+":
            builder.new_lines.append(line[1:])
        elif line[0] == "-":
            builder.old_lines.append(line[1:])
        elif builder.has_lines:
            break
        else:
            raise PatchParseError(
                f"Invalid patch hunk on line {index + 2}: Unexpected line found in update "
                f"hunk: '{line}'. Every line should start with ' ' (context line), '+' "
                "(added line), or '-' (removed line)"
            )
        builder.has_lines = True
        index += 1
    if not builder.has_lines:
        raise PatchParseError(
            f"Invalid patch hunk on line {start + 2}: Update hunk does not contain any lines"
        )
    return builder.build(), index - start
