"""What the session index knows about one rollout file, and how one line changes it.

The fold reads only the records listing needs (``session_meta``, ``turn_context``,
``token_count``, user messages in either their legacy ``user_message`` form or the
``item_completed`` ``UserMessage`` form of Codex's paginated threads) and decodes nothing
else past the line envelope. Its state is plain data, stored as columns of the index, so
a file that grew is caught up from the byte offset it was folded to. Which lines of a file
are read (head, tail, or all of it) is :mod:`llmx.projections.sessions.scan`'s business.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, NamedTuple

import msgspec

from llmx.events.event_msgs import ItemCompletedHead, TokenCountHead, UserMessageHead
from llmx.events.nesting import DECODE_ERRORS
from llmx.events.records import SessionMetaSummaryHead, TurnContextSummaryHead

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# ``rollout-<local ts>-<thread>.jsonl`` or a revert segment ``...-<thread>_<segment>.jsonl``.
ROLLOUT_NAME = re.compile(
    rf"^rollout-(?P<stamp>\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}-\d{{2}}-\d{{2}})-(?P<thread>{_UUID})"
    rf"(?:_(?P<segment>{_UUID}))?\.jsonl$"
)
REQUEST_MARKER = "## My request for Codex:"
IMAGE_PREVIEW = "[Image]"


class FileSummary(msgspec.Struct):
    """The fold state of one rollout file (one row of the ``rollout_files`` table)."""

    path: str
    thread_id: str
    segment_id: str  # "" unless this is a revert segment of the thread
    built_to: int = 0  # byte offset just past the last complete line folded
    size: int = 0
    mtime_ns: int = 0
    inode: int = 0  # a file replaced under the same name is summarised again
    # The full-text part: user messages of [0, fts_to) are in the search table. It lags
    # ``built_to`` when the middle of a large file was skipped by the summary.
    fts_to: int = 0
    has_meta: bool = False
    created_at_ms: int = 0
    cwd: str = ""  # session_meta cwd
    latest_cwd: str = ""  # cwd of the newest turn_context
    source: str = ""
    originator: str = ""
    model_provider: str = ""
    cli_version: str = ""
    agent_nickname: str | None = None
    agent_role: str | None = None
    forked_from_id: str | None = None
    history_mode: str = "legacy"
    git_sha: str | None = None
    git_branch: str | None = None
    git_origin_url: str | None = None
    first_user_message: str = ""
    has_user_event: bool = False
    model: str | None = None
    reasoning_effort: str | None = None
    sandbox_policy: str = ""
    approval_mode: str = ""
    tokens_used: int = 0
    unreadable_lines: int = 0
    # Not stored as columns: the user messages of the range the last read moved
    # ``fts_to`` over, handed to the full-text table.
    new_user_messages: list[str] = msgspec.field(default_factory=list)

    def stored(self) -> dict[str, Any]:
        row = {column: getattr(self, column) for column in STORED_COLUMNS}
        row["has_meta"] = int(self.has_meta)
        row["has_user_event"] = int(self.has_user_event)
        return row


STORED_COLUMNS = tuple(
    name for name in FileSummary.__struct_fields__ if name != "new_user_messages"
)


def parse_rollout_name(name: str) -> tuple[str, str, str] | None:
    """``(filename stamp, thread id, segment id or "")`` or None for other files."""
    match = ROLLOUT_NAME.match(name)
    if match is None:
        return None
    return match["stamp"], match["thread"].lower(), (match["segment"] or "").lower()


class _Envelope(msgspec.Struct):
    type: str | None = None
    payload: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    timestamp: str | None = None


class _EventType(msgspec.Struct):
    type: str = ""


_envelope = msgspec.json.Decoder(_Envelope)
_meta = msgspec.json.Decoder(SessionMetaSummaryHead)
_turn_context = msgspec.json.Decoder(TurnContextSummaryHead)
_event_type = msgspec.json.Decoder(_EventType)
_user_message = msgspec.json.Decoder(UserMessageHead)
_token_count = msgspec.json.Decoder(TokenCountHead)
_item_completed = msgspec.json.Decoder(ItemCompletedHead)
_compact = msgspec.json.Encoder()


def preview_of(text: str) -> str:
    """Codex's listing preview: drop everything up to the request marker, trim."""
    marker = text.find(REQUEST_MARKER)
    if marker != -1:
        text = text[marker + len(REQUEST_MARKER) :]
    return text.strip()


def _enum_text(value: Any) -> str:
    """Codex stores enums as their serde string, and anything richer as JSON text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"type"} and isinstance(value["type"], str):
        return value["type"]
    return _compact.encode(value).decode()


def _millis(stamp: str | None) -> int:
    if not stamp:
        return 0
    try:
        return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0


def _apply_meta(summary: FileSummary, meta: SessionMetaSummaryHead) -> None:
    # The first session_meta is canonical; forks and segments may carry more of them.
    if summary.has_meta or (meta.id and meta.id.lower() != summary.thread_id):
        return
    summary.has_meta = True
    summary.created_at_ms = _millis(meta.timestamp) or summary.created_at_ms
    summary.cwd = meta.cwd or ""
    summary.originator = meta.originator or ""
    summary.cli_version = meta.cli_version or ""
    # Codex: a missing source means "vscode".
    summary.source = _enum_text(meta.source) if meta.source is not None else "vscode"
    summary.model_provider = meta.model_provider or ""
    summary.agent_nickname = meta.agent_nickname
    summary.agent_role = meta.agent_role
    summary.forked_from_id = meta.forked_from_id
    summary.history_mode = meta.history_mode or "legacy"
    if meta.git is not None:
        summary.git_sha = meta.git.commit_hash
        summary.git_branch = meta.git.branch
        summary.git_origin_url = meta.git.repository_url


def _apply_turn_context(summary: FileSummary, context: TurnContextSummaryHead) -> None:
    if context.cwd:
        summary.latest_cwd = context.cwd
    policy = context.permission_profile if context.permission_profile is not None else (
        context.sandbox_policy
    )
    if policy is not None:
        summary.sandbox_policy = _enum_text(policy)
    if context.approval_policy is not None:
        summary.approval_mode = _enum_text(context.approval_policy)
    if context.model:
        summary.model = context.model
    if context.effort:
        summary.reasoning_effort = context.effort


def _add_user_message(summary: FileSummary, text: str, has_image: bool) -> None:
    summary.has_user_event = True
    preview = preview_of(text) or (IMAGE_PREVIEW if has_image else "")
    if preview and not summary.first_user_message:
        summary.first_user_message = preview
    if text.strip():
        summary.new_user_messages.append(text)


class UserText(NamedTuple):
    text: str
    has_image: bool


def _user_text(kind: str | None, payload: bytes) -> UserText | None:
    """The user message an ``event_msg`` payload carries, in either of its forms."""
    if kind == "user_message":
        message = _user_message.decode(payload)
        return UserText(message.message, bool(message.images or message.local_images))
    if kind == "item_completed":
        item = _item_completed.decode(payload).item
        if item is None or item.type != "UserMessage":
            return None
        parts = item.content or []
        text = "\n".join(p.text for p in parts if p.type == "text" and p.text)
        return UserText(text, any(p.type != "text" for p in parts))
    return None


def _tokens(kind: str | None, payload: bytes) -> int | None:
    if kind != "token_count":
        return None
    info = _token_count.decode(payload).info
    if info is None or info.total_token_usage is None:
        return None
    return info.total_token_usage.total_tokens


def _apply_event(summary: FileSummary, payload: bytes) -> None:
    kind = _event_type.decode(payload).type
    user = _user_text(kind, payload)
    if user is not None:
        _add_user_message(summary, user.text, user.has_image)
        return
    tokens = _tokens(kind, payload)
    if tokens is not None:
        summary.tokens_used = tokens


def fold_line(summary: FileSummary, line: bytes, *, first: bool = False) -> None:
    """Apply one rollout line, oldest first; an unreadable line is counted and ignored.

    ``first``: this is the file's first line, which in the oldest era may be a bare
    ``session_meta`` object without an envelope.
    """
    try:
        envelope = _envelope.decode(line)
        payload = envelope.payload
        if envelope.type == "session_meta" and payload:
            _apply_meta(summary, _meta.decode(payload))
        elif envelope.type == "turn_context" and payload:
            _apply_turn_context(summary, _turn_context.decode(payload))
        elif envelope.type == "event_msg" and payload:
            _apply_event(summary, bytes(payload))
        elif envelope.type is None and first and not summary.has_meta:
            _apply_meta(summary, _meta.decode(line))  # E0: a bare meta object first
    except DECODE_ERRORS:
        summary.unreadable_lines += 1


class TailFold:
    """Lines applied newest first (a reverse scan of a file's tail): the newest
    ``turn_context`` and token count win, and the scan can stop once it has both."""

    def __init__(self, summary: FileSummary) -> None:
        self.summary = summary
        self.has_context = False
        self.has_tokens = False
        self._oldest_user: UserText | None = None

    def apply(self, line: bytes) -> None:
        summary = self.summary
        try:
            envelope = _envelope.decode(line)
            payload = envelope.payload
            if envelope.type == "turn_context" and payload and not self.has_context:
                _apply_turn_context(summary, _turn_context.decode(payload))
                self.has_context = True
            elif envelope.type == "event_msg" and payload:
                raw = bytes(payload)
                kind = _event_type.decode(raw).type
                tokens = None if self.has_tokens else _tokens(kind, raw)
                if tokens is not None:
                    summary.tokens_used = tokens
                    self.has_tokens = True
                user = _user_text(kind, raw)
                if user is not None:
                    summary.has_user_event = True
                    self._oldest_user = user
            elif envelope.type == "session_meta" and payload and not summary.has_meta:
                _apply_meta(summary, _meta.decode(payload))
        except DECODE_ERRORS:
            summary.unreadable_lines += 1

    def finish(self) -> None:
        """A head without any user message takes the oldest one the tail scan saw."""
        user = self._oldest_user
        if user is not None and not self.summary.first_user_message:
            preview = preview_of(user.text) or (IMAGE_PREVIEW if user.has_image else "")
            self.summary.first_user_message = preview


# Only lines holding one of these can be user messages: the full-text pass over the middle
# of a large file decodes nothing else.
USER_MESSAGE_TAGS = (b'"user_message"', b'"UserMessage"')


def user_message_in(line: bytes) -> str | None:
    """The text of the user message on ``line``, if it is one (blank text: None)."""
    try:
        envelope = _envelope.decode(line)
        if envelope.type != "event_msg" or not envelope.payload:
            return None
        raw = bytes(envelope.payload)
        user = _user_text(_event_type.decode(raw).type, raw)
    except DECODE_ERRORS:
        return None
    return user.text if user is not None and user.text.strip() else None
