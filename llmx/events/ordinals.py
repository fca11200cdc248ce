"""Whether a rollout's ordinals run as its single writer numbers them: each one more.

A writer gives every persisted line the next ordinal, so in a healthy file they run
without a gap from the first (a fork or revert segment starts where its parent stopped).
A second writer shows up as ordinals at or below one already seen (*repeated*); lines
lost from the middle show up as a *missing* range. Lines without an ordinal (older eras,
bad lines) are passed over: a bad line in the middle therefore also shows as missing.

The Codex CLI numbers the lines it appends from the last line of a type it knows, so
after it continues a rollout that ends in llmx's own lines (a shutdown's submission, say)
its first lines repeat their ordinals. Such a line continues the numbering of the last
line Codex reads (*renumbered*); it is counted, and is no sign of a second writer.
The check streams: memory grows with the anomalies, not with the file.
"""

from __future__ import annotations

import msgspec

# Anomalies kept for the report; the counts go on past it.
_KEPT = 100


class OrdinalCheck(msgspec.Struct):
    """Feed each line's ordinal in file order with :meth:`add`; then read the report."""

    first: int | None = None
    last: int | None = None
    # Ordinals at or below the highest seen before them, in file order (the first _KEPT).
    repeated: list[int] = msgspec.field(default_factory=list)
    repeated_count: int = 0
    # Inclusive ranges skipped over, in file order (the first _KEPT).
    missing: list[tuple[int, int]] = msgspec.field(default_factory=list)
    missing_count: int = 0
    # Lines of types Codex reads that repeat an ordinal of llmx's own lines by continuing
    # from the last line Codex reads (see the module's docstring).
    renumbered_count: int = 0
    # The highest ordinal seen on a line of a type Codex reads.
    last_known: int | None = None

    def add(self, ordinal: int | None, *, llmx_only: bool = False) -> None:
        """Take the next line's ordinal; ``llmx_only`` for a line of llmx's own types."""
        if ordinal is None:
            return
        last, last_known = self.last, self.last_known
        if not llmx_only:
            self.last_known = ordinal if last_known is None else max(last_known, ordinal)
        if last is None:
            self.first = self.last = ordinal
        elif (not llmx_only and last_known is not None and ordinal == last_known + 1
              and ordinal <= last):
            self.renumbered_count += 1
        elif ordinal == last + 1:
            self.last = ordinal
        elif ordinal > last:
            if len(self.missing) < _KEPT:
                self.missing.append((last + 1, ordinal - 1))
            self.missing_count += ordinal - last - 1
            self.last = ordinal
        else:
            if len(self.repeated) < _KEPT:
                self.repeated.append(ordinal)
            self.repeated_count += 1

    @property
    def ok(self) -> bool:
        return not self.repeated_count and not self.missing_count

    def describe(self) -> list[str]:
        """Human phrases for the report line (empty when the ordinals are in order)."""
        parts: list[str] = []
        if self.repeated_count:
            shown = ", ".join(str(n) for n in self.repeated[:10])
            more = f" and {self.repeated_count - 10} more" if self.repeated_count > 10 else ""
            parts.append(f"repeated ordinals: {shown}{more} (a second writer?)")
        if self.missing_count:
            ranges = [str(a) if a == b else f"{a}-{b}" for a, b in self.missing[:10]]
            more = " and more" if len(self.missing) > 10 else ""
            parts.append(
                f"missing ordinals: {', '.join(ranges)}{more} ({self.missing_count} in all)"
            )
        return parts

    def as_json(self) -> dict[str, object]:
        return {
            "first": self.first,
            "last": self.last,
            "repeated": self.repeated,
            "repeated_count": self.repeated_count,
            "missing": [list(span) for span in self.missing],
            "missing_count": self.missing_count,
            "renumbered_count": self.renumbered_count,
        }
