"""The approval decision table, the session cache and command classification."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmx.runtime.approvals import (
    ApprovalCache,
    ApprovalPolicy,
    Forbidden,
    NeedsApproval,
    PatchVerdict,
    SandboxPermissions,
    Skip,
    escalation_guard,
    exec_requirement,
    patch_verdict,
    retry_unsandboxed_after_denial,
)
from llmx.runtime.approvals_rules import is_known_safe, might_be_dangerous
from llmx.runtime.escalation import likely_sandbox_denial

P = ApprovalPolicy
DEFAULT = SandboxPermissions.USE_DEFAULT
ESCALATED = SandboxPermissions.REQUIRE_ESCALATED
BOUNDED = SandboxPermissions.WITH_ADDITIONAL_PERMISSIONS


def _req(policy: ApprovalPolicy, *, perms: SandboxPermissions = DEFAULT, safe: bool = False,
         dangerous: bool = False, restricted: bool = True) -> object:
    return exec_requirement(policy, filesystem_restricted=restricted, permissions=perms,
                            known_safe=safe, dangerous=dangerous)


def test_untrusted_asks_unless_known_safe() -> None:
    assert _req(P.UNTRUSTED, safe=True) == Skip()
    assert _req(P.UNTRUSTED) == NeedsApproval()


def test_never_and_on_failure_trust_the_sandbox() -> None:
    assert _req(P.NEVER) == Skip()
    assert _req(P.ON_FAILURE) == Skip()


def test_on_request_asks_only_for_escalation() -> None:
    assert _req(P.ON_REQUEST) == Skip()
    assert _req(P.ON_REQUEST, perms=ESCALATED) == NeedsApproval()
    assert _req(P.ON_REQUEST, perms=ESCALATED, restricted=False) == Skip()


def test_dangerous_commands_ask_or_are_forbidden_under_never() -> None:
    assert _req(P.ON_REQUEST, dangerous=True) == NeedsApproval()
    assert isinstance(_req(P.NEVER, dangerous=True), Forbidden)
    assert _req(P.NEVER, dangerous=True, restricted=False) == Skip()


def test_escalation_requests_are_refused_outside_on_request() -> None:
    assert escalation_guard(P.ON_REQUEST, ESCALATED, preapproved=False) is None
    assert escalation_guard(P.NEVER, DEFAULT, preapproved=False) is None
    refusal = escalation_guard(P.NEVER, ESCALATED, preapproved=False)
    assert refusal is not None
    assert refusal.startswith("approval policy is Never; reject command")
    assert escalation_guard(P.NEVER, ESCALATED, preapproved=True) is None


def test_bounded_requests_ask_under_on_request_and_are_refused_elsewhere() -> None:
    assert _req(P.ON_REQUEST, perms=BOUNDED) == NeedsApproval()
    assert escalation_guard(P.UNTRUSTED, BOUNDED, preapproved=False) == (
        "approval policy is UnlessTrusted; reject command — you cannot request additional "
        "permissions unless the approval policy is OnRequest")
    assert escalation_guard(P.NEVER, BOUNDED, preapproved=True) is None


def test_a_cached_bounded_approval_covers_only_the_same_bounds() -> None:
    narrow = {"file_system": {"entries": [
        {"path": {"type": "path", "path": "/out"}, "access": "write"}]}}
    wide = {"file_system": {"entries": [
        {"path": {"type": "path", "path": "/"}, "access": "write"}]}}
    argv, cwd = ["bash", "-lc", "make"], Path("/w")
    cache = ApprovalCache()
    cache.remember([ApprovalCache.command_key(argv, cwd, BOUNDED, narrow)])
    assert cache.covers([ApprovalCache.command_key(argv, cwd, BOUNDED, narrow)])
    assert not cache.covers([ApprovalCache.command_key(argv, cwd, BOUNDED, wide)])
    assert not cache.covers([ApprovalCache.command_key(argv, cwd, ESCALATED)])


def test_denials_offer_an_unsandboxed_retry_only_where_codex_does() -> None:
    assert [p for p in P if retry_unsandboxed_after_denial(p)] == [P.UNTRUSTED, P.ON_FAILURE]


@pytest.mark.parametrize(
    ("policy", "writable", "read_only", "verdict"),
    [
        (P.UNTRUSTED, True, False, PatchVerdict.ASK_USER),
        (P.ON_REQUEST, True, False, PatchVerdict.AUTO_APPROVE),
        (P.ON_REQUEST, False, False, PatchVerdict.ASK_USER),
        # Codex would write inside its sandbox, fail, then ask; llmx asks before writing.
        (P.ON_FAILURE, False, False, PatchVerdict.ASK_USER),
        (P.ON_FAILURE, True, False, PatchVerdict.AUTO_APPROVE),
        (P.NEVER, False, False, PatchVerdict.REJECT),
        (P.NEVER, False, True, PatchVerdict.REJECT),
    ],
)
def test_patch_verdicts(policy: ApprovalPolicy, writable: bool, read_only: bool,
                        verdict: PatchVerdict) -> None:
    got, reason = patch_verdict(policy, all_paths_writable=writable, read_only_sandbox=read_only)
    assert got is verdict
    if verdict is PatchVerdict.REJECT:
        assert reason is not None
        assert ("read-only sandbox" in reason) == read_only


def test_session_cache_needs_every_key() -> None:
    cache = ApprovalCache()
    key = ApprovalCache.command_key(["bash", "-lc", "make"], Path("/w"), DEFAULT)
    other = ApprovalCache.command_key(["bash", "-lc", "make"], Path("/w"), ESCALATED)
    assert not cache.covers([key])
    assert not cache.covers([])
    cache.remember([key])
    assert cache.covers([key])
    assert not cache.covers([key, other])


@pytest.mark.parametrize(
    ("script", "safe"),
    [
        ("ls -la && cat README.md | wc -l", True),
        ("sed -n 1,20p file.txt", True),
        ("find . -name README", True),
        ("find . -delete", False),
        ("echo hi > out.txt", False),
        ("cat $(which python)", False),
        ("git status", False),
        ("rm file", False),
    ],
)
def test_known_safe_commands(script: str, safe: bool) -> None:
    assert is_known_safe(["/bin/bash", "-lc", script]) is safe


@pytest.mark.parametrize(
    ("script", "dangerous"),
    [("rm -rf build", True), ("sudo rm -f x", True), ("rm --force x", True),
     ("rm -- -f", False), ("rm x", False), ("ls -f", False)],
)
def test_dangerous_commands(script: str, dangerous: bool) -> None:
    assert might_be_dangerous(["bash", "-lc", script]) is dangerous


def test_sandbox_denial_guess() -> None:
    assert likely_sandbox_denial(sandboxed=True, exit_code=1,
                                 outputs=("bash: x: Read-only file system",))
    assert not likely_sandbox_denial(sandboxed=False, exit_code=1,
                                     outputs=("Read-only file system",))
    assert not likely_sandbox_denial(sandboxed=True, exit_code=127, outputs=("not found",))
    assert likely_sandbox_denial(sandboxed=True, exit_code=159, outputs=("",))
