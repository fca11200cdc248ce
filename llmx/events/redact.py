"""Secret redaction applied to every byte the rollout writer puts on disk.

Two sources of secrets: the values of environment variables whose names say they are
secret (``*KEY*``, ``*SECRET*``, ``*TOKEN*``, ``*PASSWORD*``...), and well-known token
formats (OpenAI ``sk-...``, GitHub ``ghp_...``/``github_pat_...``, AWS access key ids
and secret keys, Slack ``xox?-...``, private key blocks). The model still saw the
original text; only the persisted copy is redacted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

import msgspec

REDACTED = "[REDACTED]"

SECRET_NAME = re.compile(r"KEY|SECRET|TOKEN|PASSW|CREDENTIAL|AUTH", re.IGNORECASE)
# Short values ("1", "true", a port) would redact ordinary text everywhere.
MIN_SECRET_VALUE_LENGTH = 8

TOKEN_PATTERNS: tuple[str, ...] = (
    r"sk-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_\-]{20,}",
    r"gh[pousr]_[A-Za-z0-9]{30,}",
    r"github_pat_[A-Za-z0-9_]{30,}",
    r"(?:AKIA|ASIA)[0-9A-Z]{16}",
    # The key name and separator are kept (group ``keep``); only the value goes.
    r"(?P<keep>(?i:aws_secret_access_key)(?:[\"'=:\s]|\\\")*)[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])",
    r"xox[abprs]-[A-Za-z0-9\-]{10,}",
    # ``[^"]``: inside encoded JSON a bare quote ends the string, so a match never spans two.
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[^\"]*?-----END [A-Z ]*PRIVATE KEY-----",
)


_JSON_ESCAPE = r"(?P<escape>\\u[0-9A-Fa-f]{4}|\\.)"
_JSON_STRING_LITERAL = re.compile(rb'"(?:[^"\\]|\\.)*"')
# ``{"AWS_SECRET_ACCESS_KEY": "..."}``: key and value are two literals.
_AWS_SECRET_MEMBER = re.compile(
    rb'(?P<keep>"(?i:[a-z_]*aws_secret_access_key)"\s*:\s*")[A-Za-z0-9/+]{40}(?=")'
)

# Every token pattern contains one of these; a line with none of them (and none of the
# secret values) is returned untouched without running the regex, the common case.
_TRIGGERS: tuple[bytes, ...] = (
    b"sk-",
    b"ghp_",
    b"gho_",
    b"ghu_",
    b"ghs_",
    b"ghr_",
    b"github_pat_",
    b"AKIA",
    b"ASIA",
    b"_ACCESS_KEY",
    b"_access_key",
    b"_Access_Key",
    b"xox",
    b"PRIVATE KEY",
)


def secret_environment_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of secret-named variables, longest first so overlapping ones redact fully."""
    env = os.environ if environ is None else environ
    values = {
        value
        for name, value in env.items()
        if SECRET_NAME.search(name) and len(value) >= MIN_SECRET_VALUE_LENGTH
    }
    return sorted(values, key=len, reverse=True)


class Redactor:
    """Replaces secrets by ``[REDACTED]`` in text and in encoded JSON lines."""

    def __init__(self, secret_values: Iterable[str] = (), *, token_patterns: bool = True):
        values = sorted(
            {v for v in secret_values if len(v) >= MIN_SECRET_VALUE_LENGTH}, key=len, reverse=True
        )
        patterns = list(TOKEN_PATTERNS) if token_patterns else []
        text_forms = [re.escape(v) for v in values] + patterns
        # In encoded JSON a value appears only with its escapes (quotes, backslashes,
        # newlines), which also keeps a match inside one string literal.
        json_forms = [re.escape(msgspec.json.encode(v)[1:-1].decode("utf-8")) for v in values]
        json_forms += patterns
        # Escapes are consumed whole as a last alternative, so a scan never starts a match in
        # the middle of one (a secret of digits inside ``\u0010`` would break the JSON).
        if json_forms:
            json_forms.append(_JSON_ESCAPE)
        self._text = re.compile("|".join(text_forms)) if text_forms else None
        self._bytes = re.compile("|".join(json_forms).encode("utf-8")) if json_forms else None
        self._token_patterns = token_patterns
        self._keep_text = _text_replacement
        self._keep_bytes = _bytes_replacement
        triggers = [msgspec.json.encode(v)[1:-1] for v in values]
        triggers += list(_TRIGGERS) if token_patterns else []
        # One literal alternation scans a line much faster than a Python loop of ``in``.
        self._trigger = re.compile(b"|".join(re.escape(t) for t in triggers))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Redactor:
        return cls(secret_environment_values(environ))

    @classmethod
    def disabled(cls) -> Redactor:
        return cls((), token_patterns=False)

    def text(self, value: str) -> str:
        if self._text is None:
            return value
        return self._text.sub(self._keep_text, value)

    def raw(self, data: bytes) -> bytes:
        """Redact a command's raw output bytes; bytes that are not UTF-8 pass unchanged."""
        if self._text is None:
            return data
        text = data.decode("utf-8", "surrogateescape")
        redacted = self.text(text)
        return data if redacted == text else redacted.encode("utf-8", "surrogateescape")

    def line(self, encoded: bytes) -> bytes:
        """Redact an encoded JSON line; the result is still valid JSON.

        Only the insides of string literals are rewritten: a secret of digits must not
        cut into a number, and a secret is always a string. A JSON object member named
        like an AWS secret key has its string value redacted as a whole.
        """
        bytes_pattern = self._bytes
        if bytes_pattern is None:
            return encoded
        if self._trigger.search(encoded) is None:
            return encoded
        replace = self._keep_bytes

        def redact_literal(literal: re.Match[bytes]) -> bytes:
            return bytes_pattern.sub(replace, literal.group(0))

        redacted = _JSON_STRING_LITERAL.sub(redact_literal, encoded)
        if self._token_patterns:
            redacted = _AWS_SECRET_MEMBER.sub(rb"\g<keep>" + REDACTED.encode("ascii"), redacted)
        return redacted


def _text_replacement(match: re.Match[str]) -> str:
    keep = match.groupdict().get("keep")
    return (keep or "") + REDACTED


def _bytes_replacement(match: re.Match[bytes]) -> bytes:
    if match.group("escape") is not None:
        return match.group(0)
    keep = match.groupdict().get("keep")
    return (keep or b"") + REDACTED.encode("ascii")
