"""Up-arrow and Ctrl-R recall of earlier prompts from ``history.jsonl``.

Entries are read one at a time through the history file's offset index (the newest
first, as Up walks back), so recall costs the same with ten prompts or a million. The
prompts of this session are kept in memory as well: a prompt submitted a moment ago is
recalled at once, and a home that saves no history still recalls this session's.
"""

from __future__ import annotations

from llmx.events.history import HistoryFile


class HistoryRecall:
    """A cursor over the prompts, newest first; ``None`` results mean "nothing more"."""

    def __init__(self, file: HistoryFile | None) -> None:
        self._file = file
        self._log_id = 0
        self._count = 0
        # The file is read by :meth:`open`, after the first screen (or at the first
        # recall, if that comes sooner): before this session has written to it.
        self._opened = file is None
        self._local: list[str] = []
        # How far back Up has gone: 0 is the draft being typed, 1 the newest prompt.
        self._position = 0
        self._draft = ""

    def open(self) -> None:
        """Read where the file's prompts end: what came before this session."""
        if self._opened:
            return
        self._opened = True
        if self._file is not None:
            try:
                self._log_id, self._count = self._file.metadata()
            except OSError:
                self._file = None

    @property
    def total(self) -> int:
        self.open()
        return self._count + len(self._local)

    def add(self, text: str) -> None:
        """A prompt just submitted (it reaches the file through the session)."""
        if text.strip() and (not self._local or self._local[-1] != text):
            self._local.append(text)
        self.reset()

    def reset(self) -> None:
        self._position = 0
        self._draft = ""

    def entry(self, back: int) -> str | None:
        """The prompt ``back`` steps back (1: the newest)."""
        if back <= 0 or back > self.total:
            return None
        if back <= len(self._local):
            return self._local[-back]
        if self._file is None:
            return None
        offset = self._count - (back - len(self._local))
        try:
            found = self._file.lookup(self._log_id, offset)
        except OSError:
            return None
        return None if found is None else found.text

    def older(self, draft: str) -> str | None:
        """The prompt before the one shown (Up); remembers ``draft`` when leaving it."""
        if self._position == 0:
            self._draft = draft
        position = self._position + 1
        while position <= self.total:
            text = self.entry(position)
            if text is not None and text != draft:
                self._position = position
                return text
            position += 1
        return None

    def newer(self) -> str | None:
        """The prompt after the one shown (Down); the draft again at the end."""
        if self._position == 0:
            return None
        position = self._position - 1
        while position > 0:
            text = self.entry(position)
            if text is not None:
                self._position = position
                return text
            position -= 1
        self._position = 0
        return self._draft

    def search(self, query: str, limit: int = 50) -> list[str]:
        """Prompts containing ``query`` (case-insensitive), newest first, no repeats."""
        wanted = query.casefold()
        found: list[str] = []
        seen: set[str] = set()
        back = 1
        while back <= self.total and len(found) < limit:
            text = self.entry(back)
            back += 1
            if text is None or text in seen or wanted not in text.casefold():
                continue
            seen.add(text)
            found.append(text)
        return found
