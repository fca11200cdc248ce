"""Reverting the files of rolled-back turns: their patches undone, newest first.

Only what ``apply_patch`` did can be undone; its records hold each change (a file's
content when added or removed, the unified diff of an update). Changes made by shell
commands are in no record and stay as they are.

All or nothing: every reverse change is worked out in memory first, against what the
files hold now, patch after patch in reverse order. A file added by a patch must still
hold exactly what was added; a file removed must still be absent; an update's diff must
still be found as it left the file (at its place, or once anywhere else in the file).
The first file that fails refuses the whole revert, naming the file, and nothing is
written. What is written goes through the same checks as any patch: every path resolved
to where the bytes land (``patch_safety``), refused when the session's sandbox or its
protected paths forbid the write, and written without following links (``no_follow``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from llmx.events.primitives import AddFile, DeleteFile, FileChange, UpdateFile
from llmx.projections.turn_patches import AppliedPatch
from llmx.runtime.tools.patch_apply import (
    FileAdd,
    FileDelete,
    FileUpdate,
    PatchPlan,
    unified_diff,
)
from llmx.sandbox import no_follow
from llmx.sandbox.patch_safety import PatchTarget, patch_target

# A path's content, or None when it does not exist.
Content = str | None

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


class RevertError(Exception):
    """The revert cannot be done; one line naming the file. Nothing was written."""


class RevertPlan:
    """The verified writes of a revert and what they change (for the record)."""

    def __init__(self, plan: PatchPlan, changes: dict[str, FileChange]) -> None:
        self.plan = plan
        self.changes = changes

    def summary(self) -> str:
        return "Reverted the following files:\n" + "".join(
            f"{_letter(change)} {path}\n" for path, change in self.changes.items())


def plan_revert(
    patches: Sequence[AppliedPatch], read_refusal: Callable[[Path], str | None],
) -> RevertPlan:
    """The writes that undo ``patches`` (oldest first), or :class:`RevertError`."""
    files = _Files(read_refusal)
    for patch in reversed(patches):
        for path, change in reversed(patch.changes):
            _undo(files, Path(path), change)
    return _writes(files)


class _Files:
    """The files as the revert leaves them, read from disk on first use."""

    def __init__(self, read_refusal: Callable[[Path], str | None]) -> None:
        self._read_refusal = read_refusal
        self.initial: dict[Path, Content] = {}
        self.now: dict[Path, Content] = {}

    def get(self, path: Path) -> Content:
        if path not in self.now:
            content = self._read(path)
            self.initial[path] = content
            self.now[path] = content
        return self.now[path]

    def set(self, path: Path, content: Content) -> None:
        self.get(path)
        self.now[path] = content

    def _read(self, path: Path) -> Content:
        refusal = self._read_refusal(path)
        if refusal is not None:
            raise RevertError(f"cannot revert {path}: {refusal}")
        try:
            return no_follow.read_text(path)
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise RevertError(f"cannot revert {path}: {exc}") from None


def _undo(files: _Files, path: Path, change: FileChange) -> None:
    if isinstance(change, AddFile):
        if files.get(path) != change.content:
            raise _changed(path, "it no longer holds what the patch added")
        files.set(path, None)
    elif isinstance(change, DeleteFile):
        if files.get(path) is not None:
            raise _changed(path, "the patch removed it and it exists again")
        files.set(path, change.content)
    elif isinstance(change, UpdateFile):
        moved = Path(change.move_path) if change.move_path else None
        where = moved or path
        current = files.get(where)
        if current is None:
            raise _changed(where, "the file the patch wrote is gone")
        if moved is not None and moved != path and files.get(path) is not None:
            raise _changed(path, "the patch moved it away and it exists again")
        files.set(where, None)
        files.set(path, _reverse_diff(where, current, change.unified_diff))


def _reverse_diff(path: Path, current: str, diff: str) -> str:
    """``current`` with the update ``diff`` taken back, or :class:`RevertError`."""
    lines = current.split("\n")
    ends_with_newline = bool(lines) and lines[-1] == ""
    if ends_with_newline:
        lines.pop()
    edits: list[tuple[int, int, list[str]]] = []
    for start, new_side, old_side in _hunks(diff):
        at = _find(lines, new_side, start)
        if at is None:
            raise _changed(path, "the lines the patch wrote are not there any more")
        edits.append((at, len(new_side), old_side))
    edits.sort(key=lambda edit: edit[0])
    for (at, length, _), (later, _, _) in itertools.pairwise(edits):
        if at + length > later:
            raise _changed(path, "the lines the patch wrote are not there any more")
    for at, length, old_side in reversed(edits):
        lines[at:at + length] = old_side
    if not lines:
        return ""
    return "\n".join(lines) + "\n"


def _hunks(diff: str) -> list[tuple[int, list[str], list[str]]]:
    """Each hunk of a unified diff: where its new side starts (0-based), the new side's
    lines and the old side's."""
    hunks: list[tuple[int, list[str], list[str]]] = []
    for line in diff.split("\n"):
        header = _HUNK.match(line)
        if header is not None:
            start, count = int(header.group(1)), header.group(2)
            # An empty new side is placed after line ``start``; otherwise it starts there.
            hunks.append((start if count == "0" else start - 1, [], []))
        elif hunks and line[:1] in (" ", "+", "-"):
            _, new_side, old_side = hunks[-1]
            if line[0] != "-":
                new_side.append(line[1:])
            if line[0] != "+":
                old_side.append(line[1:])
    return hunks


def _find(lines: list[str], wanted: list[str], hint: int) -> int | None:
    """Where ``wanted`` is in ``lines``: at ``hint``, else its only place elsewhere."""
    if lines[hint:hint + len(wanted)] == wanted and hint <= len(lines):
        return hint
    if not wanted:
        return None
    found = [index for index in range(len(lines) - len(wanted) + 1)
             if lines[index:index + len(wanted)] == wanted]
    return found[0] if len(found) == 1 else None


def _changed(path: Path, why: str) -> RevertError:
    return RevertError(f"cannot revert {path}: it changed since the patch ({why}); "
                       "nothing was reverted")


def _writes(files: _Files) -> RevertPlan:
    writes: list[FileAdd | FileDelete | FileUpdate] = []
    targets: list[PatchTarget] = []
    changes: dict[str, FileChange] = {}
    summary: list[str] = []
    for path, content in sorted(files.now.items()):
        before = files.initial[path]
        if content == before:
            continue
        if content is None:
            assert before is not None
            targets.append(patch_target(path, removes_entry=True))
            writes.append(FileDelete(targets[-1].target, before))
            changes[str(path)] = DeleteFile(content=before)
            summary.append(f"D {path}")
        elif before is None:
            targets.append(patch_target(path))
            writes.append(FileAdd(targets[-1].target, content))
            changes[str(path)] = AddFile(content=content)
            summary.append(f"A {path}")
        else:
            targets.append(patch_target(path))
            diff = unified_diff(before, content)
            writes.append(FileUpdate(targets[-1].target, None, diff, content))
            changes[str(path)] = UpdateFile(unified_diff=diff, move_path=None)
            summary.append(f"M {path}")
    return RevertPlan(PatchPlan(tuple(writes), tuple(summary), tuple(targets)), changes)


# What a revert's refusal says when the sandbox forbids a write (not a changed file).
SANDBOX_REFUSES = "the sandbox refuses the write"


def refused_write(targets: Sequence[PatchTarget]) -> str | None:
    """The one-line refusal for the first target the sandbox forbids; None if none."""
    for target in targets:
        if target.refusal:
            return (f"cannot revert {target.named}: {SANDBOX_REFUSES} ({target.refusal}); "
                    "nothing was reverted")
    return None


def _letter(change: FileChange) -> str:
    if isinstance(change, AddFile):
        return "A"
    if isinstance(change, DeleteFile):
        return "D"
    return "M"
