"""The sandbox's value classes compare, hash and print by their fields (``llmx.sandbox.value``)."""

from __future__ import annotations

from pathlib import Path

from llmx.sandbox.policy import (
    DangerFullAccessPolicy,
    ReadOnlyPolicy,
    WorkspaceWritePolicy,
)
from llmx.sandbox.profile_config import NamedProfile
from llmx.sandbox.profiles import Enforcement, PermissionProfile


def test_equal_by_fields_within_one_class() -> None:
    assert WorkspaceWritePolicy((Path("/a"),), True) == WorkspaceWritePolicy(
        writable_roots=(Path("/a"),), network_access=True
    )
    assert WorkspaceWritePolicy((Path("/a"),)) != WorkspaceWritePolicy((Path("/b"),))
    assert hash(ReadOnlyPolicy(True)) == hash(ReadOnlyPolicy(network_access=True))
    assert len({ReadOnlyPolicy(), ReadOnlyPolicy(False), ReadOnlyPolicy(True)}) == 2


def test_other_classes_with_the_same_values_are_not_equal() -> None:
    # A tuple-based record (``namedtuple``) would call each pair equal.
    assert DangerFullAccessPolicy() != ()
    assert ReadOnlyPolicy() != (False,)


def test_a_field_left_out_of_the_comparison() -> None:
    profile = PermissionProfile(Enforcement.MANAGED)
    warned = NamedProfile("dev", profile, warnings=("unknown key",))
    assert warned == NamedProfile("dev", profile)
    assert hash(warned) == hash(NamedProfile("dev", profile))
    assert warned != NamedProfile("other", profile)


def test_repr_names_every_field() -> None:
    shown = repr(WorkspaceWritePolicy(network_access=True))
    assert shown.startswith("WorkspaceWritePolicy(")
    for part in ("writable_roots=()", "network_access=True", "exclude_slash_tmp=False"):
        assert part in shown
