"""The turn's cumulative diff, rebuilt from the file changes the log records.

Codex prints a git-style diff of everything the turn changed after each applied patch
(``turn/diff/updated``). That diff is computed from the files on disk and is not persisted,
so replay rebuilds it from the ``FileChange`` items: added and deleted files carry their full
content, so their ``index`` lines (git blob ids) come out exactly; an update carries only
its hunks (one line of context), so its before/after blobs are unknown and the ``index``
line is left out. A file added and then edited in the same turn is diffed from content.
"""

from __future__ import annotations

import hashlib
import os
import re

import msgspec

from llmx.projections.exec.items import FileChangeEntry

_ZERO_ID = "0" * 40
_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_NO_NEWLINE = "\\ No newline at end of file"


def blob_id(content: str) -> str:
    """Git's object id for a blob holding ``content``."""
    data = content.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


class _FileDiff(msgspec.Struct):
    origin: str
    current: str
    existed_before: bool
    before: str | None  # None: not known from the log
    exists_now: bool
    after: str | None
    # Hunks of updates whose base content is unknown, in the order applied.
    loose_hunks: list[str] = msgspec.field(default_factory=list)


class TurnDiffTracker:
    """Folds one turn's file changes into the diff ``exec`` shows after each patch."""

    def __init__(self, cwd: str) -> None:
        self._cwd = cwd
        self._files: dict[str, _FileDiff] = {}
        self._by_current: dict[str, str] = {}
        # Each file's rendered diff, until a change touches it again: the whole turn's
        # diff is shown after every patch, usually of one file among several.
        self._rendered: dict[str, str] = {}

    def apply(self, changes: list[FileChangeEntry]) -> None:
        for change in changes:
            key = self._by_current.get(change.path, change.path)
            self._rendered.pop(key, None)
            state = self._files.get(key)
            if state is None:
                state = self._new_state(change)
                self._files[key] = state
                self._by_current[change.path] = key
            else:
                self._update_state(state, change)
            if change.move_path:
                self._by_current.pop(state.current, None)
                state.current = change.move_path
                self._by_current[change.move_path] = key

    def _new_state(self, change: FileChangeEntry) -> _FileDiff:
        if change.kind == "add":
            return _FileDiff(change.path, change.path, False, None, True, change.content or "")
        if change.kind == "delete":
            return _FileDiff(change.path, change.path, True, change.content or "", False, None)
        state = _FileDiff(change.path, change.path, True, None, True, None)
        state.loose_hunks.append(change.unified_diff or "")
        return state

    def _update_state(self, state: _FileDiff, change: FileChangeEntry) -> None:
        if change.kind == "add":
            state.exists_now, state.after = True, change.content or ""
        elif change.kind == "delete":
            state.exists_now, state.after = False, None
            state.loose_hunks.clear()
        else:
            patched = None
            if state.after is not None:
                patched = apply_hunks(state.after, change.unified_diff or "")
            if patched is None:
                state.after = None
                state.loose_hunks.append(change.unified_diff or "")
            else:
                state.after = patched

    def render(self) -> str:
        """The whole turn's diff; empty when nothing differs any more."""
        parts: list[str] = []
        for key, state in sorted(self._files.items()):
            text = self._rendered.get(key)
            if text is None:
                text = self._rendered[key] = self._render_file(state)
            parts.append(text)
        return "".join(parts)

    def _relative(self, path: str) -> str:
        cwd = self._cwd.rstrip("/")
        if cwd and path.startswith(cwd + "/"):
            return path[len(cwd) + 1 :]
        return path.lstrip("/") if os.path.isabs(path) else path

    def _render_file(self, state: _FileDiff) -> str:
        if not state.existed_before and not state.exists_now:
            return ""
        left, right = self._relative(state.origin), self._relative(state.current)
        head = [f"diff --git a/{left} b/{right}\n"]
        if not state.existed_before:
            if state.after is None:
                return ""
            head.append("new file mode 100644\n")
            head.append(f"index {_ZERO_ID}..{blob_id(state.after)}\n")
            head.append(f"--- /dev/null\n+++ b/{right}\n")
            return "".join(head) + _hunks("", state.after)
        if not state.exists_now:
            if state.before is None:
                return "".join(head) + f"deleted file mode 100644\n--- a/{left}\n+++ /dev/null\n"
            head.append("deleted file mode 100644\n")
            head.append(f"index {blob_id(state.before)}..{_ZERO_ID}\n")
            head.append(f"--- a/{left}\n+++ /dev/null\n")
            return "".join(head) + _hunks(state.before, "")
        if state.before is not None and state.after is not None:
            if state.before == state.after and left == right:
                return ""
            head.append(f"index {blob_id(state.before)}..{blob_id(state.after)}\n")
            head.append(f"--- a/{left}\n+++ b/{right}\n")
            return "".join(head) + _hunks(state.before, state.after)
        head.append(f"--- a/{left}\n+++ b/{right}\n")
        body = "".join(h if h.endswith("\n") or not h else h + "\n" for h in state.loose_hunks)
        return "".join(head) + body


def _hunks(before: str, after: str) -> str:
    import difflib  # only a turn that changed files renders a diff; exec start-up skips it

    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), n=3
    )
    out: list[str] = []
    for index, line in enumerate(lines):
        if index < 2:  # difflib's own ---/+++ header
            continue
        out.append(line if line.endswith("\n") else f"{line}\n{_NO_NEWLINE}\n")
    return "".join(out)


def apply_hunks(text: str, diff: str) -> str | None:
    """``text`` with the unified ``diff`` applied, or None if the diff does not fit it."""
    source = text.splitlines(keepends=True)
    result: list[str] = []
    cursor = 0
    lines = diff.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        match = _HUNK_HEADER.match(lines[i])
        i += 1
        if match is None:
            continue
        start = max(int(match.group(1)) - 1, 0)
        if int(match.group(2) or "1") == 0:
            start += 1
        if start < cursor:
            return None
        result.extend(source[cursor:start])
        cursor = start
        while i < len(lines) and not lines[i].startswith("@@"):
            line = lines[i]
            i += 1
            if line.startswith(_NO_NEWLINE):
                if result:
                    result[-1] = result[-1].rstrip("\n")
                continue
            tag, body = line[:1], line[1:]
            if tag in (" ", "-"):
                if cursor >= len(source) or source[cursor].rstrip("\n") != body.rstrip("\n"):
                    return None
                cursor += 1
                if tag == " ":
                    result.append(body if body.endswith("\n") else body + "\n")
            elif tag == "+":
                result.append(body if body.endswith("\n") else body + "\n")
    result.extend(source[cursor:])
    return "".join(result)
