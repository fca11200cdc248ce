"""llmx: an event-sourced coding-agent runtime that speaks the Codex CLI's file formats.

Layering (imports flow downward only)::

    llmx.cli -> llmx.runtime -> llmx.sandbox / llmx.projections -> llmx.events

The rollout log written by :mod:`llmx.events` is the single source of truth; everything a
person sees is a projection of it. This module stays import-light so that ``llmx --help``
and ``llmx --version`` start fast.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "install_hint"]


def install_hint(extra: str) -> str:
    """What to do when an optional extra (``postgres``, ``otel``, ``mcp``) is missing, for
    the end of an error line: the command that installs it.

    Each extra's packages are imported only where they are used, so a missing one is
    found there. Not ``pip install 'llmx[EXTRA]'``: the package index has another
    project of that name, and a checkout run through ``scripts/llmx`` has its own
    ``.venv``. The hint names the interpreter llmx runs on and the extra's requirements
    as llmx's installed metadata lists them. Here, beside ``__version__``, because every
    layer has an extra to point at, and its imports wait for the call.
    """
    import re
    import shlex
    import sys
    from importlib import metadata

    try:
        requires = metadata.requires("llmx") or []
    except metadata.PackageNotFoundError:
        requires = []
    wanted = []
    for requirement in requires:
        spec, _, marker = requirement.partition(";")
        found = re.search(r"""extra\s*==\s*["']([^"']+)["']""", marker)
        if found is not None and found.group(1) == extra:
            wanted.append(spec.strip())
    if not wanted:
        return f"install llmx with its {extra} extra (pip install '.[{extra}]' in its checkout)"
    command = " ".join(shlex.quote(part) for part in
                       (sys.executable, "-m", "pip", "install", *wanted))
    return f"install llmx's {extra} extra into the Python it runs on: {command}"
