"""Applying a parsed apply_patch to the filesystem, with Codex's matching rules.

Every path is resolved to where the bytes would land before anything is read or written
(``llmx.sandbox.patch_safety``): the plan's changes name those targets, the runtime checks
them against the sandbox, and reads and writes reach them without following any link
(``llmx.sandbox.no_follow``).

Verification happens before any write: every hunk is resolved against the current file
contents first, so a patch whose third hunk does not match changes nothing. Matching
tries exact lines, then lines with trailing whitespace ignored, then surrounding
whitespace ignored, then typographic punctuation folded to ASCII; models copy code with
the wrong dashes and quotes often enough that Codex accepts them.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec

from llmx.runtime.tools.patch_format import AddFile, DeleteFile, Hunk, UpdateChunk, UpdateFile
from llmx.sandbox import no_follow
from llmx.sandbox.patch_safety import PatchTarget, patch_target

# Why the sandbox refuses reading a path (None: it may be read); see ``plan_patch``.
ReadRefusal = Callable[[Path], str | None]


class PatchApplyError(Exception):
    """The patch cannot be applied as written; nothing was changed."""


class FileAdd(msgspec.Struct, frozen=True):
    # Every path of a change is a resolved target, free of symbolic links.
    path: Path
    content: str


class FileDelete(msgspec.Struct, frozen=True):
    # The entry removed (a link is removed, not what it points to).
    path: Path
    content: str


class FileUpdate(msgspec.Struct, frozen=True):
    # Rewritten in place; with ``move_path``, the entry removed once the new file is written.
    path: Path
    move_path: Path | None
    unified_diff: str
    new_content: str


FileChange = FileAdd | FileDelete | FileUpdate


class PatchPlan(msgspec.Struct, frozen=True):
    """The verified effect of a patch: absolute paths and the exact new contents."""

    changes: tuple[FileChange, ...]
    # ``A path`` / ``M path`` / ``D path`` as the patch named them, for the success message.
    summary_lines: tuple[str, ...]
    # Every path written or removed (both ends of a move), as named and as resolved.
    targets: tuple[PatchTarget, ...]

    def success_message(self) -> str:
        return "Success. Updated the following files:\n" + "".join(
            f"{line}\n" for line in self.summary_lines
        )


def plan_patch(
    hunks: Sequence[Hunk], cwd: Path, *, read_refusal: ReadRefusal | None = None
) -> PatchPlan:
    """Resolve every hunk against the files under ``cwd`` without writing anything.

    ``read_refusal`` (the sandbox's read rules) is asked before a file is read for an
    update or a removal: a patch must not show the model what a command could not read.
    """
    changes: list[FileChange] = []
    summary: list[str] = []
    targets: list[PatchTarget] = []
    for hunk in hunks:
        named = _absolute(hunk.path, cwd)
        if isinstance(hunk, AddFile):
            target = patch_target(named)
            targets.append(target)
            changes.append(FileAdd(target.target, hunk.content))
            summary.append(f"A {hunk.path}")
        elif isinstance(hunk, DeleteFile):
            target = patch_target(named, removes_entry=True)
            targets.append(target)
            changes.append(FileDelete(target.target, _read(named, "delete", read_refusal)))
            summary.append(f"D {hunk.path}")
        else:
            moved = None if hunk.move_path is None else patch_target(
                _absolute(hunk.move_path, cwd))
            # A move removes the source entry; an update rewrites the file it resolves to.
            target = patch_target(named, removes_entry=moved is not None)
            targets.extend([target] if moved is None else [target, moved])
            original = _read(named, "update", read_refusal)
            changes.append(_plan_update(hunk, named, target.target, original, moved))
            summary.append(f"M {hunk.move_path or hunk.path}")
    return PatchPlan(tuple(changes), tuple(summary), tuple(targets))


def apply_plan(plan: PatchPlan) -> None:
    """Write a verified plan to disk (parents created as needed), following no link."""
    for change in plan.changes:
        if isinstance(change, FileAdd):
            no_follow.write_text(change.path, change.content)
        elif isinstance(change, FileDelete):
            no_follow.remove(change.path)
        else:
            target = change.move_path or change.path
            no_follow.write_text(target, change.new_content)
            if change.move_path is not None and change.move_path != change.path:
                no_follow.remove(change.path)


def _absolute(path: Path, cwd: Path) -> Path:
    return Path(os.path.normpath(path if path.is_absolute() else cwd / path))


def _read(named: Path, purpose: str, read_refusal: ReadRefusal | None) -> str:
    source = Path(os.path.realpath(named))
    refusal = None if read_refusal is None else read_refusal(source)
    if refusal is not None:
        raise PatchApplyError(f"Failed to read file to {purpose} {named}: {refusal}")
    try:
        return no_follow.read_text(source)
    except FileNotFoundError:
        raise PatchApplyError(
            f"Failed to read file to {purpose} {named}: No such file or directory (os error 2)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PatchApplyError(f"Failed to read file to {purpose} {named}: {exc}") from None


def _plan_update(
    hunk: UpdateFile, named: Path, path: Path, original: str, moved: PatchTarget | None
) -> FileUpdate:
    lines = original.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    replacements = _replacements(lines, named, hunk.chunks)
    new_lines = _apply_replacements(lines, replacements)
    if not new_lines or new_lines[-1] != "":
        new_lines.append("")
    new_content = "\n".join(new_lines)
    move = None if moved is None else moved.target
    return FileUpdate(path, move, unified_diff(original, new_content), new_content)


def unified_diff(old: str, new: str) -> str:
    """A unified diff without file headers, one line of context (as Codex reports it)."""
    diff = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), n=1, lineterm="\n"
    )
    body = [line for index, line in enumerate(diff) if index >= 2]
    return "".join(line if line.endswith("\n") else line + "\n" for line in body)


def _replacements(
    lines: list[str], path: Path, chunks: Sequence[UpdateChunk]
) -> list[tuple[int, int, list[str]]]:
    replacements: list[tuple[int, int, list[str]]] = []
    line_index = 0
    for chunk in chunks:
        if chunk.change_context is not None:
            found = seek_sequence(lines, [chunk.change_context], line_index, eof=False)
            if found is None:
                raise PatchApplyError(
                    f"Failed to find context '{chunk.change_context}' in {path}"
                )
            line_index = found + 1
        if not chunk.old_lines:
            # Pure addition: goes at the end (before a final empty line if there is one).
            at = len(lines) - 1 if lines and lines[-1] == "" else len(lines)
            replacements.append((at, 0, list(chunk.new_lines)))
            continue
        pattern = list(chunk.old_lines)
        new_slice = list(chunk.new_lines)
        found = seek_sequence(lines, pattern, line_index, eof=chunk.is_end_of_file)
        if found is None and pattern and pattern[-1] == "":
            # A trailing empty context line often stands for the file's final newline.
            pattern = pattern[:-1]
            if new_slice and new_slice[-1] == "":
                new_slice = new_slice[:-1]
            found = seek_sequence(lines, pattern, line_index, eof=chunk.is_end_of_file)
        if found is None:
            raise PatchApplyError(
                f"Failed to find expected lines in {path}:\n" + "\n".join(chunk.old_lines)
            )
        replacements.append((found, len(pattern), new_slice))
        line_index = found + len(pattern)
    replacements.sort(key=lambda item: item[0])
    return replacements


def _apply_replacements(
    lines: list[str], replacements: list[tuple[int, int, list[str]]]
) -> list[str]:
    result = list(lines)
    # Back to front, so earlier indexes stay valid.
    for start, length, new_slice in reversed(replacements):
        result[start : start + length] = new_slice
    return result


_PUNCTUATION = str.maketrans(
    {
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
        "\u2015": "-", "\u2212": "-", "\u2018": "'", "\u2019": "'", "\u201a": "'",
        "\u201b": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"',
        "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2004": " ", "\u2005": " ",
        "\u2006": " ", "\u2007": " ", "\u2008": " ", "\u2009": " ", "\u200a": " ",
        "\u202f": " ", "\u205f": " ", "\u3000": " ",
    }
)


def _normalise(line: str) -> str:
    return line.strip().translate(_PUNCTUATION)


_COMPARISONS: tuple[Callable[[str], str], ...] = (
    lambda line: line,
    str.rstrip,
    str.strip,
    _normalise,
)


def seek_sequence(
    lines: Sequence[str], pattern: Sequence[str], start: int, *, eof: bool
) -> int | None:
    """Index where ``pattern`` occurs in ``lines`` at or after ``start``, loosest match last."""
    if not pattern:
        return start
    if len(pattern) > len(lines):
        return None
    first = len(lines) - len(pattern) if eof else start
    for compare in _COMPARISONS:
        wanted = [compare(line) for line in pattern]
        for index in range(first, len(lines) - len(pattern) + 1):
            if all(
                compare(lines[index + offset]) == wanted[offset] for offset in range(len(pattern))
            ):
                return index
    return None
