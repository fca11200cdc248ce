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
