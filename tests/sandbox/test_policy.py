"""SandboxPolicy and PermissionProfile JSON: byte-compatible with what Codex wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import fixture_rollouts

from llmx.sandbox.plan import NetworkAccess
from llmx.sandbox.policy import (
    DangerFullAccessPolicy,
    ExternalSandboxPolicy,
    PolicyError,
    ReadOnlyPolicy,
    WorkspaceWritePolicy,
    decode_policy,
    encode_policy,
)
from llmx.sandbox.profiles import Enforcement, decode_profile, encode_profile, file_system_from_dict


def _turn_contexts() -> list[dict[str, object]]:
    found = []
    for path in fixture_rollouts():
        for line in path.read_text(encoding="utf-8").splitlines():
            if '"turn_context"' not in line:
                continue
            item = json.loads(line)
            if item.get("type") == "turn_context":
                found.append(item["payload"])
    return found


def test_fixture_rollouts_have_turn_contexts() -> None:
    assert len(_turn_contexts()) > 10


def test_every_codex_sandbox_policy_round_trips_byte_for_byte() -> None:
    seen = 0
    for payload in _turn_contexts():
        raw = payload.get("sandbox_policy")
        if raw is None:
            continue
        text = json.dumps(raw, separators=(",", ":"))
        assert encode_policy(decode_policy(text)) == text
        seen += 1
    assert seen > 10


def test_every_codex_permission_profile_round_trips_byte_for_byte() -> None:
    seen = 0
    for payload in _turn_contexts():
        raw = payload.get("permission_profile")
        if raw is None:
            continue
        text = json.dumps(raw, separators=(",", ":"))
        assert encode_profile(decode_profile(text)) == text
        seen += 1
    assert seen > 10


def test_file_system_sandbox_policy_uses_kind_and_decodes_the_same_entries() -> None:
    for payload in _turn_contexts():
        fs = payload.get("file_system_sandbox_policy")
        profile = payload.get("permission_profile")
        if isinstance(fs, dict) and isinstance(profile, dict):
            assert file_system_from_dict(fs) == decode_profile(json.dumps(profile)).file_system
            return
    pytest.fail("no turn_context with both file_system_sandbox_policy and permission_profile")


@pytest.mark.parametrize(
    ("policy", "text"),
    [
        (ReadOnlyPolicy(), '{"type":"read-only"}'),
        (ReadOnlyPolicy(network_access=True), '{"type":"read-only","network_access":true}'),
        (DangerFullAccessPolicy(), '{"type":"danger-full-access"}'),
        (
            ExternalSandboxPolicy(NetworkAccess.ENABLED),
            '{"type":"external-sandbox","network_access":"enabled"}',
        ),
        (
            WorkspaceWritePolicy(writable_roots=(Path("/srv/a"),), network_access=True),
            '{"type":"workspace-write","writable_roots":["/srv/a"],"network_access":true,'
            '"exclude_tmpdir_env_var":false,"exclude_slash_tmp":false}',
        ),
    ],
)
def test_policy_encoding(policy: object, text: str) -> None:
    assert encode_policy(policy) == text  # type: ignore[arg-type]
    assert decode_policy(text) == policy


def test_workspace_write_defaults_when_fields_are_missing() -> None:
    assert decode_policy('{"type":"workspace-write"}') == WorkspaceWritePolicy()


def test_older_read_only_access_field_is_ignored() -> None:
    policy = decode_policy('{"type":"read-only","access":{"type":"full-access"}}')
    assert policy == ReadOnlyPolicy()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"type":"sideways"}', "unknown sandbox policy type 'sideways'"),
        ("[1]", "must be a JSON object"),
        ("{not json", "not valid JSON"),
        ('{"type":"workspace-write","writable_roots":["rel/dir"]}', "is relative"),
        ('{"type":"external-sandbox","network_access":"maybe"}', "'maybe'"),
        ('{"type":"read-only","network_access":"yes"}', "true or false"),
    ],
)
def test_bad_policies_are_one_line_errors(text: str, needle: str) -> None:
    with pytest.raises(PolicyError) as info:
        decode_policy(text)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_profile_kinds_decode() -> None:
    assert decode_profile('{"type":"disabled"}').enforcement is Enforcement.DISABLED
    external = decode_profile('{"type":"external","network":"enabled"}')
    assert external.enforcement is Enforcement.EXTERNAL
    assert external.network is NetworkAccess.ENABLED
    assert encode_profile(external) == '{"type":"external","network":"enabled"}'


def test_unknown_special_token_is_kept_and_round_trips() -> None:
    text = (
        '{"type":"managed","file_system":{"type":"restricted","entries":['
        '{"path":{"type":"special","value":{"kind":"unknown","path":":future"}},"access":"read"}]},'
        '"network":"restricted"}'
    )
    assert encode_profile(decode_profile(text)) == text
    also = text.replace('"kind":"unknown","path":":future"', '"kind":"brand_new"')
    assert decode_profile(also).file_system.entries[0].path.token == "brand_new"  # type: ignore[union-attr]


def test_none_is_an_alias_of_deny() -> None:
    text = (
        '{"type":"managed","file_system":{"type":"restricted","entries":['
        '{"path":{"type":"path","path":"/x"},"access":"none"}]},"network":"restricted"}'
    )
    assert '"access":"deny"' in encode_profile(decode_profile(text))
