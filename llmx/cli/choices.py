"""The words the command line accepts for sandbox modes, backends, approval policies and
decisions.

Spelled out rather than read from their enums (``SandboxMode``, ``BackendKind``,
``ApprovalPolicy``, ``ReviewDecision``): argument parsing must not import the policy,
kernel, config or event schema modules, because ``llmx --help`` and
``llmx sandbox linux -- true`` are start-up paths. ``tests/test_cli_choices.py`` checks
that each tuple is exactly its enum's values.
"""

from __future__ import annotations

SANDBOX_MODES = ("read-only", "workspace-write", "danger-full-access")
LINUX_BACKENDS = ("namespaces", "bubblewrap", "landlock")
APPROVAL_POLICIES = ("untrusted", "on-failure", "on-request", "never")
REVIEW_DECISIONS = ("approved", "approved_for_session", "denied", "abort")
