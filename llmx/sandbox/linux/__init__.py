"""Kernel enforcement of a ``ConfinementPlan`` on Linux.

Backends (``BackendKind``): the own user+mount namespace set-up with Landlock and
seccomp, bubblewrap with seccomp, or Landlock and seccomp alone. ``choose_backend``
picks one a plan can be enforced with and says why for each; ``run_confined`` (async)
and ``run_confined_blocking``/``exec_confined`` run commands; ``detect_denial`` and
``find_denials`` tell whether and what the sandbox refused.

The async API lives in ``llmx.sandbox.linux.spawn`` and the blocking one in
``llmx.sandbox.linux.blocking``; neither is imported here, so that importing this
package stays cheap (no asyncio, no subprocess).
"""

from __future__ import annotations

# Names are resolved on first use (PEP 562), so that importing one submodule (the spawn
# server imports only the kernel bindings and the child set-up) does not import them all.
_EXPORTS = {
    "BackendChoice": "backends", "BackendKind": "backends", "BackendStatus": "backends",
    "UnenforceablePlan": "backends", "choose_backend": "backends", "explain": "backends",
    "probe_backends": "backends",
    "DenialFinding": "denials", "DenialKind": "denials", "detect_denial": "denials",
    "find_denials": "denials", "format_denials": "denials",
    "ConfinedResult": "result", "SandboxSetupError": "result",
}

TYPE_CHECKING = False
if TYPE_CHECKING:
    from llmx.sandbox.linux.backends import (
        BackendChoice,
        BackendKind,
        BackendStatus,
        UnenforceablePlan,
        choose_backend,
        explain,
        probe_backends,
    )
    from llmx.sandbox.linux.denials import (
        DenialFinding,
        DenialKind,
        detect_denial,
        find_denials,
        format_denials,
    )
    from llmx.sandbox.linux.result import ConfinedResult, SandboxSetupError


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value

__all__ = [
    "BackendChoice",
    "BackendKind",
    "BackendStatus",
    "ConfinedResult",
    "DenialFinding",
    "DenialKind",
    "SandboxSetupError",
    "UnenforceablePlan",
    "choose_backend",
    "detect_denial",
    "explain",
    "find_denials",
    "format_denials",
    "probe_backends",
]
