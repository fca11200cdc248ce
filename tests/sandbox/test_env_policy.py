"""shell_environment_policy: the six steps in Codex's order."""

from __future__ import annotations

import pytest

from llmx.sandbox.env_policy import Inherit, ShellEnvironmentPolicy, build_env
from llmx.sandbox.policy import PolicyError

PARENT = {
    "PATH": "/usr/bin",
    "HOME": "/home/u",
    "OPENAI_API_KEY": "sk-1",
    "GITHUB_TOKEN": "t",
    "my_secret_thing": "s",
    "AWS_REGION": "eu",
    "LANG": "C.UTF-8",
    "EDITOR": "vi",
}


def test_default_drops_key_secret_token_case_insensitively() -> None:
    env = build_env(PARENT, ShellEnvironmentPolicy())
    assert set(env) == {"PATH", "HOME", "AWS_REGION", "LANG", "EDITOR"}


def test_ignore_default_excludes_keeps_them() -> None:
    env = build_env(PARENT, ShellEnvironmentPolicy(ignore_default_excludes=True))
    assert env == PARENT


def test_core_keeps_only_the_core_list() -> None:
    env = build_env({**PARENT, "path": "/x"}, ShellEnvironmentPolicy(inherit=Inherit.CORE))
    assert set(env) == {"PATH", "HOME", "LANG", "path"}


def test_none_starts_empty_and_set_adds() -> None:
    env = build_env(PARENT, ShellEnvironmentPolicy(inherit=Inherit.NONE, set={"A": "1"}))
    assert env == {"A": "1"}


def test_exclude_then_set_then_include_only_in_that_order() -> None:
    policy = ShellEnvironmentPolicy(
        exclude=("aws_*",),
        set={"AWS_PROFILE": "dev", "MY_TOKEN": "kept-by-set"},
        include_only=("AWS_*", "PATH"),
    )
    env = build_env(PARENT, policy)
    # exclude removed AWS_REGION; set re-added an AWS_ name afterwards; include_only ran last
    # and dropped MY_TOKEN even though set added it.
    assert env == {"PATH": "/usr/bin", "AWS_PROFILE": "dev"}


def test_set_can_add_a_secret_named_variable_deliberately() -> None:
    env = build_env(PARENT, ShellEnvironmentPolicy(set={"API_KEY": "x"}))
    assert env["API_KEY"] == "x"


def test_thread_id_is_exported_last() -> None:
    policy = ShellEnvironmentPolicy(include_only=("PATH",))
    env = build_env(PARENT, policy, thread_id="0199-abc")
    assert env == {"PATH": "/usr/bin", "CODEX_THREAD_ID": "0199-abc"}


def test_wildcards_question_mark() -> None:
    env = build_env({"A1": "x", "A12": "y"}, ShellEnvironmentPolicy(exclude=("A?",)))
    assert env == {"A12": "y"}


def test_from_mapping() -> None:
    policy = ShellEnvironmentPolicy.from_mapping(
        {"inherit": "core", "ignore_default_excludes": True, "exclude": ["X*"], "set": {"A": "b"}}
    )
    assert policy.inherit is Inherit.CORE
    assert policy.exclude == ("X*",)


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ({"inherit": "some"}, "inherit 'some'"),
        ({"exclude": "X*"}, "exclude must be a list"),
        ({"set": {"A": 1}}, "set must be a table of string values"),
        ({"bogus": 1}, "unknown key 'bogus'"),
        ({"ignore_default_excludes": "no"}, "true or false"),
    ],
)
def test_bad_tables(table: dict[str, object], needle: str) -> None:
    with pytest.raises(PolicyError, match=None) as info:
        ShellEnvironmentPolicy.from_mapping(table)
    assert needle in str(info.value)
