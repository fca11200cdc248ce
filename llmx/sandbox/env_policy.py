"""``[shell_environment_policy]``: the environment a command receives.

The steps run in Codex's order, and the order matters (``include_only`` runs after ``set``,
so it can drop a variable ``set`` just added):

1. start set: ``all`` (the parent environment), ``core`` (a short allowlist) or ``none``;
2. unless ``ignore_default_excludes``: drop names matching ``*KEY*``, ``*SECRET*``, ``*TOKEN*``;
3. drop names matching ``exclude``;
4. insert every ``set`` pair;
5. if ``include_only`` is non-empty, keep only matching names;
6. export the thread id as ``CODEX_THREAD_ID`` (Codex's name, so scripts written for Codex work).

Patterns are case-insensitive wildcards (``*``, ``?``), not regular expressions.

One deliberate difference: newer Codex defaults ``ignore_default_excludes`` to true (no
secret filter). llmx keeps the filter on by default; secrets in the environment of a
model-driven command are a liability, and a user can still opt out.
"""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Iterable, Mapping

from llmx.sandbox.policy import PolicyError
from llmx.sandbox.value import Value

THREAD_ID_ENV_VAR = "CODEX_THREAD_ID"
# Set when the command's network is restricted, so test suites can skip network tests.
NETWORK_DISABLED_ENV_VAR = "CODEX_SANDBOX_NETWORK_DISABLED"
DEFAULT_EXCLUDES: tuple[str, ...] = ("*KEY*", "*SECRET*", "*TOKEN*")
# ``inherit = "core"`` keeps these (matched case-insensitively).
CORE_VARS: tuple[str, ...] = (
    "PATH",
    "SHELL",
    "TMPDIR",
    "TEMP",
    "TMP",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "LOGNAME",
    "USER",
)


class Inherit(enum.Enum):
    ALL = "all"
    CORE = "core"
    NONE = "none"


class ShellEnvironmentPolicy(Value):
    __slots__ = ("exclude", "ignore_default_excludes", "include_only", "inherit", "set")

    def __init__(
        self,
        inherit: Inherit = Inherit.ALL,
        ignore_default_excludes: bool = False,
        exclude: tuple[str, ...] = (),
        set: Mapping[str, str] | None = None,
        include_only: tuple[str, ...] = (),
    ) -> None:
        self.inherit = inherit
        self.ignore_default_excludes = ignore_default_excludes
        self.exclude = exclude
        self.set = {} if set is None else set
        self.include_only = include_only

    @classmethod
    def from_mapping(cls, table: Mapping[str, object]) -> ShellEnvironmentPolicy:
        """From the parsed ``[shell_environment_policy]`` table; bad keys are one-line errors."""
        where = "shell_environment_policy"
        known = {
            "inherit",
            "ignore_default_excludes",
            "exclude",
            "set",
            "include_only",
            "experimental_use_profile",
        }
        for key in table:
            if key not in known:
                raise PolicyError(f"{where}: unknown key {key!r}",
                                  f"use one of {', '.join(sorted(known))}")
        raw_inherit = table.get("inherit", "all")
        try:
            inherit = Inherit(raw_inherit)
        except ValueError:
            raise PolicyError(f"{where}.inherit {raw_inherit!r} is not one of all, core, none",
                              'set it to "all", "core" or "none"') from None
        ignore = table.get("ignore_default_excludes", False)
        if not isinstance(ignore, bool):
            raise PolicyError(f"{where}.ignore_default_excludes must be true or false",
                              "set it to true or false")
        set_table = table.get("set", {})
        if not isinstance(set_table, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in set_table.items()
        ):
            raise PolicyError(f"{where}.set must be a table of string values",
                              'write it as set = { NAME = "value" }')
        return cls(
            inherit=inherit,
            ignore_default_excludes=ignore,
            exclude=_patterns(table.get("exclude", []), f"{where}.exclude"),
            set=dict(set_table),
            include_only=_patterns(table.get("include_only", []), f"{where}.include_only"),
        )


def _patterns(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where} must be a list of patterns",
                          'write it as a list of strings, e.g. ["AWS_*"]')
    return tuple(value)


def _compile(patterns: Iterable[str]) -> re.Pattern[str] | None:
    parts = [fnmatch.translate(p) for p in patterns]
    if not parts:
        return None
    return re.compile("|".join(f"(?:{p})" for p in parts), re.IGNORECASE)


def build_env(
    parent: Mapping[str, str],
    policy: ShellEnvironmentPolicy,
    *,
    thread_id: str | None = None,
) -> dict[str, str]:
    """The child's environment, computed from ``parent`` by the policy's six steps."""
    if policy.inherit is Inherit.ALL:
        env = dict(parent)
    elif policy.inherit is Inherit.NONE:
        env = {}
    else:
        core = {name.upper() for name in CORE_VARS}
        env = {k: v for k, v in parent.items() if k.upper() in core}
    if not policy.ignore_default_excludes:
        default = _compile(DEFAULT_EXCLUDES)
        assert default is not None
        env = {k: v for k, v in env.items() if not default.fullmatch(k)}
    exclude = _compile(policy.exclude)
    if exclude is not None:
        env = {k: v for k, v in env.items() if not exclude.fullmatch(k)}
    env.update(policy.set)
    include = _compile(policy.include_only)
    if include is not None:
        env = {k: v for k, v in env.items() if include.fullmatch(k)}
    if thread_id is not None:
        env[THREAD_ID_ENV_VAR] = thread_id
    return env
