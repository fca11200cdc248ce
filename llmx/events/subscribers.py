"""In-process subscribers: each gets every line after it reached the sink, in order.

A subscriber has a bounded queue. The writer never waits for a subscriber: when one
falls ``capacity`` lines behind, it is dropped. It then drains what it already had and
gets :class:`SubscriberLagged`, which says the last ordinal it saw, so it can re-read
the rollout file from there and subscribe again.
"""

from __future__ import annotations

import asyncio
from collections import deque

from llmx.events.lines import RolloutLine

DEFAULT_SUBSCRIBER_CAPACITY = 4096


class SubscriberLagged(Exception):
    """The subscriber fell behind and was dropped; re-read the file after ``last_ordinal``."""

    def __init__(self, last_ordinal: int | None) -> None:
        super().__init__(
            f"subscriber fell behind and was dropped after ordinal {last_ordinal}; "
            "re-read the rollout file from there"
        )
        self.last_ordinal = last_ordinal


class Subscription:
    """An async iterator of lines; ends when the log closes, raises if it lagged."""

    def __init__(self, capacity: int = DEFAULT_SUBSCRIBER_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("a subscriber needs a capacity of at least one line")
        self.capacity = capacity
        self._queue: deque[RolloutLine] = deque()
        self._ready = asyncio.Event()
        self._closed = False
        self._lagged = False
        # The last persisted ordinal handed to this subscriber (for catch-up after lag).
        self._last_ordinal: int | None = None

    @property
    def lagged(self) -> bool:
        return self._lagged

    @property
    def closed(self) -> bool:
        return self._closed

    def offer(self, line: RolloutLine) -> bool:
        """Queue ``line``; False (and the subscription is dropped) when it is full."""
        if self._closed:
            return False
        if len(self._queue) >= self.capacity:
            self._lagged = True
            self._closed = True
            self._ready.set()
            return False
        self._queue.append(line)
        self._ready.set()
        return True

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    def get_nowait(self) -> RolloutLine | None:
        """The next line already published, or ``None`` when there is none yet."""
        if self._queue:
            return self._take()
        if self._lagged:
            raise SubscriberLagged(self._last_ordinal)
        return None

    async def get(self) -> RolloutLine:
        """The next line; ``StopAsyncIteration`` once closed and drained."""
        while not self._queue:
            if self._lagged:
                raise SubscriberLagged(self._last_ordinal)
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._take()

    def _take(self) -> RolloutLine:
        line = self._queue.popleft()
        if line.ordinal is not None:
            self._last_ordinal = line.ordinal
        return line

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> RolloutLine:
        return await self.get()
