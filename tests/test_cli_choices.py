"""The command line's spelled-out choices are exactly the values of the enums they stand for."""

from __future__ import annotations

from llmx.cli.choices import (
    APPROVAL_POLICIES,
    LINUX_BACKENDS,
    REVIEW_DECISIONS,
    SANDBOX_MODES,
)
from llmx.events.ops import ReviewDecision
from llmx.runtime.config.types import ApprovalPolicy
from llmx.sandbox.linux.backends import BackendKind
from llmx.sandbox.policy import SandboxMode


def test_sandbox_modes_are_the_enums() -> None:
    assert tuple(mode.value for mode in SandboxMode) == SANDBOX_MODES


def test_approval_policies_are_the_enums() -> None:
    assert tuple(policy.value for policy in ApprovalPolicy) == APPROVAL_POLICIES


def test_review_decisions_are_the_enums() -> None:
    assert tuple(decision.value for decision in ReviewDecision) == REVIEW_DECISIONS


def test_linux_backends_are_the_enums() -> None:
    assert tuple(kind.value for kind in BackendKind) == LINUX_BACKENDS
