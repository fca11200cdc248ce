"""The cyclic garbage collector during an interactive session.

Most of what the session holds lives as long as the app: Textual's classes and styles,
the runtime, a resumed session's transcript. The collector's passes over those objects
find nothing and cost time where it shows: before the first frame, and while keys are
typed during a turn. So the collector is off while the first screen loads, what has
loaded by the first frame and by the session's opening is frozen (left out of every
pass; reference counting still frees it), and full passes are made when no one waits.
"""

from __future__ import annotations

import gc
import time

# Once the session is open the collector makes no full pass by itself (a full pass walks
# every object made since and held the keys and the screen for 7-9 ms, up to 76 ms on a
# busy machine, several times a minute while the model streams). Full passes are made
# when they cost no one anything: when a turn ends, and in a longer turn at most once
# per FULL_PASS_S, in a second when no key was typed.
FULL_PASS_S = 60.0
KEYS_QUIET_S = 1.0
# A threshold for the oldest generation that is never reached.
_NEVER = 1 << 30


class Heap:
    """The collector from the app's start to its end."""

    def __init__(self) -> None:
        self._thresholds: tuple[int, int, int] | None = None
        self._held = False
        self.last_full_pass = time.monotonic()

    def hold(self) -> None:
        """Turn the collector off until the first frame is shown (:meth:`release`).

        Called before Textual is imported: importing it and the app, and drawing the
        first frame, make about 70,000 objects that all stay, and the collector's passes
        over them were 14-23 ms of the 0.22 s of CPU to the first frame, for nothing
        (they find about 600 objects of cyclic garbage, which stay).
        """
        if gc.isenabled():
            gc.disable()
            self._held = True

    def release(self) -> None:
        """The first frame is shown: freeze what is loaded and turn the collector back
        on. Frozen first, so that its next young collection does not walk everything
        made while it was off (one collection of all of it took 24 ms)."""
        if self._held:
            gc.freeze()
            gc.enable()
            self._held = False

    def settle(self) -> None:
        """Leave what is loaded once the session is open out of the collector's full
        passes, and make those only when :meth:`full_pass` is called.

        Textual, the runtime and a resumed session are objects that live as long as the
        app; each full pass of the cyclic collector walked all of them (50-170 ms,
        measured while a model streams), freezing the screen and the keys typed
        meanwhile. Frozen, they are still freed by reference counting; no collection
        runs first (it found about 65 unreachable objects at this point and cost 30 ms
        of CPU). The young generations are still collected as they fill.
        """
        self.release()
        gc.freeze()
        if self._thresholds is None:
            young, middle, oldest = gc.get_threshold()
            self._thresholds = (young, middle, oldest)
            gc.set_threshold(young, middle, _NEVER)

    @property
    def settled(self) -> bool:
        return self._thresholds is not None

    def full_pass(self) -> None:
        self.last_full_pass = time.monotonic()
        if self.settled:
            gc.collect()

    def full_pass_due(self, *, quiet_for: float) -> bool:
        """A long turn's full pass is due: FULL_PASS_S since the last, ``quiet_for``
        seconds without a key."""
        return (self.settled and quiet_for >= KEYS_QUIET_S
                and time.monotonic() - self.last_full_pass >= FULL_PASS_S)

    def restore(self) -> None:
        """The collector as it was (the app has ended, or never drew a frame)."""
        if self._held:
            gc.enable()
            self._held = False
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None
