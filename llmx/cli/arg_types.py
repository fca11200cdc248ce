"""Argument types shared by command modules (argparse ``type=`` callables)."""

from __future__ import annotations

import argparse

# SQLite's largest integer: a limit above it asks for everything, which is what it gets.
_LARGEST = 2**63 - 1


def positive_int(text: str) -> int:
    """A whole number of at least 1 (``--limit``), with argparse's one-line error; one
    larger than any listing can hold means all of it."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return min(value, _LARGEST)
