"""How the commands read their terminal: colour (``--color``, ``NO_COLOR``) and width.

Loads nothing beyond ``os`` and ``sys``: every command that prints imports it.
"""

from __future__ import annotations

import os
from typing import TextIO


def use_color(choice: str, stream: TextIO) -> bool:
    """``--color always|never|auto``: ``auto`` colours only a terminal, and never when
    ``NO_COLOR`` is set to anything but the empty string (https://no-color.org)."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except ValueError:  # a closed stream
        return False


def columns_from_env(default: int) -> int:
    """``$COLUMNS`` when it is a positive number, else ``default`` (for output that goes
    to a pipe or a file, where no terminal says how wide it is)."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        return default
    return columns if columns > 0 else default
