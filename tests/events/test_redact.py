"""Redaction: which environment values and token formats are hidden, and JSON stays valid."""

from __future__ import annotations

import json

import msgspec
from hypothesis import example, given, settings
from hypothesis import strategies as st

from llmx.events.redact import REDACTED, Redactor, secret_environment_values


def test_secret_named_variables_with_long_values_are_collected() -> None:
    env = {
        "OPENAI_API_KEY": "sk-live-value-1234",
        "GITHUB_TOKEN": "tok-abcdefgh",
        "DB_PASSWORD": "pa55word!",
        "AUTH_HEADER": "Bearer abcdefghij",
        "SHORT_SECRET": "1234567",  # too short: would redact ordinary text
        "HOME": "/home/dev",
        "PATH": "/usr/bin:/bin",
    }
    assert set(secret_environment_values(env)) == {
        "sk-live-value-1234",
        "tok-abcdefgh",
        "pa55word!",
        "Bearer abcdefghij",
    }


def test_token_formats() -> None:
    redactor = Redactor()
    samples = [
        "sk-proj-" + "a" * 40,
        "sk-" + "B" * 48,
        "ghp_" + "c" * 36,
        "github_pat_" + "d" * 40,
        "AKIAIOSFODNN7EXAMPLE",
        "xoxb-1234567890-abcdef",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----",
    ]
    for secret in samples:
        assert redactor.text(f"before {secret} after") == f"before {REDACTED} after", secret
    aws = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert redactor.text(f"aws_secret_access_key = {aws}") == f"aws_secret_access_key = {REDACTED}"
    for harmless in ["task-list", "ghost", "sk-short", "the AKIA prefix", "xox"]:
        assert redactor.text(harmless) == harmless


def test_values_with_json_escapes_are_found_in_encoded_lines() -> None:
    secret = 'quote"back\\slash\nnewline'
    redactor = Redactor([secret])
    line = msgspec.json.encode({"out": f"x{secret}y", "n": 1})
    redacted = redactor.line(line)
    assert json.loads(redacted) == {"out": f"x{REDACTED}y", "n": 1}


def test_disabled_redactor_changes_nothing() -> None:
    line = b'{"k":"sk-' + b"a" * 40 + b'"}'
    assert Redactor.disabled().line(line) == line


secrets = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=8, max_size=24
)
values = st.recursive(
    st.none() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(secrets, values, st.text(max_size=10), st.text(max_size=10))
# Found by this test: a secret of digits matched inside a ``\u0010`` escape, and inside
# a JSON number.
@example(secret="00000000", value=None, before="\x10", after="")
@example(secret="00000000", value=100000000, before="", after="")
def test_redacted_lines_stay_valid_json_and_lose_the_secret(
    secret: str, value: object, before: str, after: str
) -> None:
    redactor = Redactor([secret])
    line = msgspec.json.encode({"payload": value, "text": before + secret + after})
    redacted = redactor.line(line)
    decoded = json.loads(redacted)
    assert REDACTED in decoded["text"]
    if secret not in REDACTED:
        assert not [text for text in _strings(decoded) if secret in text]


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def test_a_secret_of_digits_never_cuts_into_a_number() -> None:
    redactor = Redactor(["00000000"])
    line = msgspec.json.encode({"n": 100000000, "text": "id 00000000 here"})
    assert json.loads(redactor.line(line)) == {"n": 100000000, "text": f"id {REDACTED} here"}


def test_an_aws_secret_as_a_json_member_is_redacted() -> None:
    aws = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    line = msgspec.json.encode({"env": {"AWS_SECRET_ACCESS_KEY": aws}})
    redacted = Redactor().line(line)
    assert json.loads(redacted) == {"env": {"AWS_SECRET_ACCESS_KEY": REDACTED}}
