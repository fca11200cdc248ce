"""``SandboxPolicy``: Codex's legacy sandbox policy, byte-compatible on the wire.

Codex still writes this form into every ``turn_context`` (``sandbox_policy``) and accepts
it on its app-server; it is the vocabulary of ``sandbox_mode``. It is internally tagged on
``"type"`` in kebab-case. Fields Codex omits when they hold their default (``network_access``
of ``read-only``, an empty ``writable_roots``) are omitted here too, so a policy we encode
compares equal, as text, to the one Codex wrote.

Plain value classes (``llmx.sandbox.value``) and the standard ``json`` module, not msgspec or
dataclasses: ``llmx sandbox linux`` decodes a policy on its start-up path and must stay
cheap to import.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from pathlib import Path

from llmx.sandbox.failure import SandboxFailure
from llmx.sandbox.plan import NetworkAccess
from llmx.sandbox.value import Value


class PolicyError(SandboxFailure, ValueError):
    """A sandbox policy, profile or mode that cannot be understood."""


class FlagError(PolicyError):
    """The error is in a command-line flag (exit 2, as for any usage error)."""


class SandboxMode(enum.Enum):
    """The ``sandbox_mode`` config key and the ``--sandbox/-s`` flag."""

    # The whole disk is readable, nothing is writable, no network.
    READ_ONLY = "read-only"
    # Readable everywhere; writable in the workspace, /tmp and $TMPDIR; network off by default.
    WORKSPACE_WRITE = "workspace-write"
    # No sandbox: commands run as plain child processes.
    DANGER_FULL_ACCESS = "danger-full-access"

    @classmethod
    def parse(cls, value: str, *, source: str) -> SandboxMode:
        try:
            return cls(value)
        except ValueError:
            accepted = ", ".join(mode.value for mode in cls)
            error = FlagError if source.startswith("-") else PolicyError
            raise error(f"unknown sandbox mode {value!r} in {source}",
                        f"use one of {accepted}") from None


class ReadOnlyPolicy(Value):
    __slots__ = ("network_access",)

    def __init__(self, network_access: bool = False) -> None:
        self.network_access = network_access


class WorkspaceWritePolicy(Value):
    __slots__ = ("exclude_slash_tmp", "exclude_tmpdir_env_var", "network_access", "writable_roots")

    def __init__(
        self,
        writable_roots: tuple[Path, ...] = (),
        network_access: bool = False,
        exclude_tmpdir_env_var: bool = False,
        exclude_slash_tmp: bool = False,
    ) -> None:
        # Extra writable roots besides the cwd, /tmp and $TMPDIR; always absolute.
        self.writable_roots = writable_roots
        self.network_access = network_access
        self.exclude_tmpdir_env_var = exclude_tmpdir_env_var
        self.exclude_slash_tmp = exclude_slash_tmp


class DangerFullAccessPolicy(Value):
    __slots__ = ()


class ExternalSandboxPolicy(Value):
    """The process already runs inside a sandbox someone else set up; only the network flag
    is ours to report."""

    __slots__ = ("network_access",)

    def __init__(self, network_access: NetworkAccess = NetworkAccess.RESTRICTED) -> None:
        self.network_access = network_access


SandboxPolicy = (
    ReadOnlyPolicy | WorkspaceWritePolicy | DangerFullAccessPolicy | ExternalSandboxPolicy
)

_TAGS: dict[type[object], str] = {
    ReadOnlyPolicy: "read-only",
    WorkspaceWritePolicy: "workspace-write",
    DangerFullAccessPolicy: "danger-full-access",
    ExternalSandboxPolicy: "external-sandbox",
}


def policy_tag(policy: SandboxPolicy) -> str:
    return _TAGS[type(policy)]


def policy_to_dict(policy: SandboxPolicy) -> dict[str, object]:
    """The JSON object Codex writes for ``policy``, keys in Codex's order."""
    out: dict[str, object] = {"type": policy_tag(policy)}
    if isinstance(policy, ReadOnlyPolicy):
        if policy.network_access:
            out["network_access"] = True
    elif isinstance(policy, WorkspaceWritePolicy):
        if policy.writable_roots:
            out["writable_roots"] = [str(root) for root in policy.writable_roots]
        out["network_access"] = policy.network_access
        out["exclude_tmpdir_env_var"] = policy.exclude_tmpdir_env_var
        out["exclude_slash_tmp"] = policy.exclude_slash_tmp
    elif isinstance(policy, ExternalSandboxPolicy):
        out["network_access"] = policy.network_access.value
    return out


def encode_policy(policy: SandboxPolicy) -> str:
    """Compact JSON, as Codex serialises it."""
    import json  # only when encoding: off the start-up path of ``llmx sandbox``

    return json.dumps(policy_to_dict(policy), separators=(",", ":"))


def _bool_field(data: Mapping[str, object], key: str, tag: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise PolicyError(f"sandbox policy {tag!r}: {key} must be true or false, got {value!r}")
    return value


def policy_from_dict(data: Mapping[str, object]) -> SandboxPolicy:
    """Decode a ``sandbox_policy`` object. Unknown extra fields (older ``read_only_access``,
    newer additions) are ignored, as Codex ignores them."""
    tag = data.get("type")
    if tag == "read-only":
        return ReadOnlyPolicy(network_access=_bool_field(data, "network_access", tag))
    if tag == "danger-full-access":
        return DangerFullAccessPolicy()
    if tag == "workspace-write":
        raw_roots = data.get("writable_roots", [])
        if not isinstance(raw_roots, list) or not all(isinstance(r, str) for r in raw_roots):
            raise PolicyError(
                "sandbox policy 'workspace-write': writable_roots must be a list of paths"
            )
        roots = tuple(Path(r) for r in raw_roots)
        for root in roots:
            if not root.is_absolute():
                raise PolicyError(
                    f"sandbox policy 'workspace-write': writable root {str(root)!r} is relative; "
                    "use an absolute path"
                )
        return WorkspaceWritePolicy(
            writable_roots=roots,
            network_access=_bool_field(data, "network_access", tag),
            exclude_tmpdir_env_var=_bool_field(data, "exclude_tmpdir_env_var", tag),
            exclude_slash_tmp=_bool_field(data, "exclude_slash_tmp", tag),
        )
    if tag == "external-sandbox":
        raw = data.get("network_access", "restricted")
        try:
            network = NetworkAccess(raw)
        except ValueError:
            raise PolicyError(
                f"sandbox policy 'external-sandbox': network_access {raw!r} is not "
                "'restricted' or 'enabled'"
            ) from None
        return ExternalSandboxPolicy(network_access=network)
    accepted = ", ".join(_TAGS.values())
    raise PolicyError(f"unknown sandbox policy type {tag!r}; accepted: {accepted}")


def decode_policy(text: str | bytes) -> SandboxPolicy:
    import json  # only when decoding: off the start-up path of ``llmx sandbox``

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(
            f"sandbox policy is not valid JSON: {exc.msg} at char {exc.pos}"
        ) from None
    if not isinstance(data, dict):
        raise PolicyError('sandbox policy must be a JSON object with a "type" field')
    return policy_from_dict(data)
