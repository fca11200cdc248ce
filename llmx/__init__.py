"""llmx: an event-sourced coding-agent runtime that speaks the Codex CLI's file formats.

Layering (imports flow downward only)::

    llmx.cli -> llmx.runtime -> llmx.sandbox / llmx.projections -> llmx.events

The rollout log written by :mod:`llmx.events` is the single source of truth; everything a
person sees is a projection of it. This module stays import-light so that ``llmx --help``
and ``llmx --version`` start fast.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
