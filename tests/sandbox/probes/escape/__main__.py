"""The escape probe: ``python -S -E -s escape/ CONTEXT_JSON ATTEMPT...``.

Runs inside the sandbox under test and tries each named attempt (standard library only;
every attempt independent of the others, the structural ones last). It reports each
outcome on stderr for whoever reads the log, but no verdict comes from it: the host
judges every attempt by what changed on its side (see ``tests/support/escape_arena``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import allowed
import descriptors
import files
import kernel
import keyrings
import metadata
import namespaces
import network
import processes
import terminal

MODULES = (files, metadata, network, processes, kernel, terminal, descriptors, keyrings,
           namespaces, allowed)
ATTEMPTS: dict[str, Callable[[str], None]] = {
    name: value for module in MODULES for name, value in vars(module).items()
    if callable(value) and not name.startswith("_") and name[0].islower()
    and getattr(value, "__module__", None) == module.__name__
}


def main(names: list[str]) -> None:
    ordered = [n for n in names if n not in metadata.LAST]
    ordered += [n for n in metadata.LAST if n in names]
    for name in ordered:
        try:
            ATTEMPTS[name](name)
        except BaseException as exc:  # each attempt is independent of the others
            sys.stderr.write(f"attempt {name}: refused: {exc!r}\n")
        else:
            sys.stderr.write(f"attempt {name}: went through\n")
        sys.stderr.flush()


if __name__ == "__main__":
    main(sys.argv[2:])
