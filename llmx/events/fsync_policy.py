"""``FsyncPolicy``: when the rollout writer calls ``fsync`` (``[rollout].fsync`` in
``config.toml`` names the same values). The writer writes and flushes every batch
whatever the policy; the policy only decides when the file also reaches the disk."""

from __future__ import annotations

import enum


class FsyncPolicy(enum.Enum):
    # At turn end, after approval decisions and escalations, and at close (the default).
    TURN = "turn"
    # After every batch: the slowest, and nothing acknowledged is lost on power failure.
    ALWAYS = "always"
    # Only at close: the OS decides until then, so a crash of the machine may lose the tail.
    NEVER = "never"
