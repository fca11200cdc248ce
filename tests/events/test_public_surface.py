"""Importing a light corner of ``llmx.events`` must not load the schema or the writer."""

from __future__ import annotations

import subprocess
import sys

from support.waits import WAIT_SECONDS


def test_home_layout_does_not_import_the_writer_or_msgspec() -> None:
    code = "import sys, llmx.events.home; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True,
            timeout=WAIT_SECONDS,
        ).stdout.split()
    )
    assert "asyncio" not in loaded
    assert "msgspec" not in loaded
    assert "llmx.events.event_log" not in loaded
