"""``turn/diff/updated``: the turn's aggregated diff after each patch it applied.

Codex computes it from the files on disk and never records it; llmx rebuilds it from
the completed ``FileChange`` items of the turn (the same fold ``exec`` shows), so a fold
of the rollout sends what the live thread sent. An added or deleted file's diff is
exactly Codex's (its ``index`` line is the git blob ids of the contents); an update
carries only its hunks, so its ``index`` line is left out.
"""

from __future__ import annotations

from llmx.events.primitives import AddFile, DeleteFile, FileChange
from llmx.events.turn_items import FileChangeItem, PatchApplyStatus
from llmx.projections.diff_render import TurnDiffTracker
from llmx.projections.exec.items import FileChangeEntry


class TurnDiffs:
    """One turn's patches, folded into its diff."""

    def __init__(self, cwd: str) -> None:
        self._tracker = TurnDiffTracker(cwd)

    def applied(self, item: FileChangeItem) -> str | None:
        """The turn's whole diff once ``item`` is counted; None when the item changed
        nothing on disk (refused or failed) or nothing differs any more."""
        if item.status is not PatchApplyStatus.COMPLETED:
            return None
        self._tracker.apply([_entry(path, change)
                             for path, change in sorted(item.changes.items())])
        diff = self._tracker.render()
        return diff if diff.strip() else None


def _entry(path: str, change: FileChange) -> FileChangeEntry:
    if isinstance(change, AddFile):
        return FileChangeEntry(path=path, kind="add", content=change.content)
    if isinstance(change, DeleteFile):
        return FileChangeEntry(path=path, kind="delete", content=change.content)
    return FileChangeEntry(path=path, kind="update", unified_diff=change.unified_diff,
                           move_path=change.move_path)
