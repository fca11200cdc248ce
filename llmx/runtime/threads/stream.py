"""A thread's event stream from any position: the rollout file first, then the live log.

A subscriber that starts at an earlier position reads the thread's history from its
rollout (and, for a fork, from the parents its ``history_base`` names) and then continues
with the lines the log publishes, with no gap and no duplicate at the handoff:

1. The live subscription is registered first, the file's current size measured and the
   lines not written yet (a new thread's, before its file appears) copied, in one step
   of the event loop (nothing is recorded in between). Every line recorded before that
   step is in the file below that size or among those copied; every line recorded after
   it reaches the subscription.
2. The file is read up to that size, off the event loop, then the copied lines.
3. Live lines are then passed on, skipping those whose ordinal was already passed on (a
   line can be in the file and still waiting for its fsync before it is published).

A subscriber that falls behind the live log (see ``llmx.events.subscribers``) goes back to
step 1 from the last position it passed on, so a slow reader loses nothing that was
written; only streaming deltas, which are published but not persisted, can be missed.
Positions are line ordinals (a line's index for files written before ordinals existed).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

from llmx.events.event_log import EventLog
from llmx.events.lines import LineError, RolloutLine, decode_line
from llmx.events.subscribers import SubscriberLagged, Subscription

if TYPE_CHECKING:
    from llmx.projections.lineage import RolloutSpan

# Lines decoded per hop off the event loop while catching up.
_BATCH = 512

# The spans of the thread's rollout files as they are now: called right after the live
# subscription was registered, in the same step of the event loop.
SpansNow = Callable[[], "Sequence[RolloutSpan]"]


class _Recorded(NamedTuple):
    """What was recorded when a subscription was registered: the files up to their size
    then, and the lines recorded but not written yet (a new thread before its file)."""

    spans: Sequence[RolloutSpan]
    unwritten: Sequence[RolloutLine]


_NOTHING = _Recorded((), ())


class ThreadEvents:
    """The lines of one thread from ``from_position`` on (live only when it is None), in
    the order of its rollout file; ends when the thread's log closes.

    Use as ``async for line in thread.subscribe(...)``; :meth:`aclose` stops early.
    """

    def __init__(
        self, log: EventLog, spans_now: SpansNow, from_position: int | None, capacity: int
    ) -> None:
        self._log = log
        self._spans_now = spans_now
        self._capacity = capacity
        # The first position not passed on yet.
        self.position = from_position or 0
        # Registered now, not on the first read: "from now on" is from this call.
        self._subscription, self._recorded = self._register(catch_up=from_position is not None)
        self._lines = self._generate()

    def __aiter__(self) -> ThreadEvents:
        return self

    async def __anext__(self) -> RolloutLine:
        return await self._lines.__anext__()

    async def aclose(self) -> None:
        """Stop reading; the live subscription is dropped."""
        self._subscription.close()
        await self._lines.aclose()

    def _register(self, *, catch_up: bool) -> tuple[Subscription, _Recorded]:
        # One step of the event loop: nothing is recorded between these lines.
        subscription = self._log.subscribe(self._capacity)
        if not catch_up:
            return subscription, _NOTHING
        return subscription, _Recorded(self._spans_now(), self._log.unwritten())

    async def _generate(self) -> AsyncGenerator[RolloutLine, None]:
        while True:
            subscription = self._subscription
            try:
                async for line in self._read(self._recorded.spans):
                    yield line
                for line in self._recorded.unwritten:
                    if self._passes(line):
                        yield line
                try:
                    async for line in subscription:
                        if self._passes(line):
                            yield line
                    return
                except SubscriberLagged:
                    subscription.close()
                    self._subscription, self._recorded = self._register(catch_up=True)
                    if not self._recorded.spans:
                        raise  # nothing on disk to catch up from
            finally:
                subscription.close()

    def _passes(self, line: RolloutLine) -> bool:
        """False for a line passed on already (read from the file, or unwritten then)."""
        ordinal = line.ordinal
        if ordinal is None:
            return True  # a delta: published, never recorded
        if ordinal < self.position:
            return False
        self.position = ordinal + 1
        return True

    async def _read(self, spans: Sequence[RolloutSpan]) -> AsyncIterator[RolloutLine]:
        if not spans:
            return
        lines = _file_lines(spans)
        while True:
            batch = await asyncio.to_thread(_take, lines, _BATCH)
            for position, line in batch:
                if position < self.position:
                    continue
                self.position = position + 1
                yield line
            if len(batch) < _BATCH:
                return


def _file_lines(spans: Sequence[RolloutSpan]) -> Iterator[tuple[int, RolloutLine]]:
    # Imported here: most subscriptions (exec's) start live and read no file.
    from llmx.projections.lineage import lines_forward

    index = 0
    for _span, _number, raw in lines_forward(spans):
        if not raw.terminated or raw.is_blank:
            continue
        try:
            line = decode_line(raw.data)
        except LineError:
            continue  # reported by the readers that check files; not part of the stream
        yield (index if line.ordinal is None else line.ordinal), line
        index += 1


def _take(
    lines: Iterator[tuple[int, RolloutLine]], count: int
) -> list[tuple[int, RolloutLine]]:
    return list(itertools.islice(lines, count))
